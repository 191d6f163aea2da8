"""The `poolimport` command: runs one command and turns expected failures into `error:` lines.

Start-up stays light: the command modules import what their commands need (SQLAlchemy, the queue, the
router client, cryptography) inside the command functions, so that `--help` and a usage error cost no more
than argparse, and each command loads only its own share. tests/unit/test_startup.py holds that line.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from poolimport.cli import (
    audit_cmds,
    import_cmds,
    job_cmds,
    key_cmds,
    operator_cmds,
    queue_cmds,
    schedule_cmds,
    setup_cmds,
    ssh_cmds,
    tool_cmds,
)
from poolimport.cli.context import Context, UsageError
from poolimport.cli.output import print_error
from poolimport.core.errors import PoolimportError, describe

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

# What the shell reports for any tool stopped by a closed pipe: 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141


class Parser(argparse.ArgumentParser):
    """Never echoes what it doesn't understand: a mistyped option's value may be a password."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            # Refused by the innermost (sub)command that saw them, so the usage shown is that command's.
            self.error(_describe_extras(self.prog, extras))
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print_error(message)
        sys.exit(2)


def _describe_extras(prog: str, extras: list[str]) -> str:
    options = [arg.split("=", 1)[0] for arg in extras if arg.startswith("-")]
    values = len(extras) - len(options)
    if not options:
        many = f"{values} argument{'s' if values > 1 else ''} too many"
        return f"{many} for {prog} (not echoed: it could be a secret)"
    more = f" and {values} value(s), not shown" if values else ""
    return f"unrecognized arguments: {' '.join(options)}{more}"


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser = Parser(prog="poolimport", description="Import MikroTik IP pools into a database.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    setup_cmds.register(sub, common)
    import_cmds.register(sub, common)
    schedule_cmds.register(sub, common)
    job_cmds.register(sub, common)
    queue_cmds.register(sub, common)
    operator_cmds.register(sub, common)
    audit_cmds.register(sub, common)
    ssh_cmds.register(sub, common)
    key_cmds.register(sub, common)
    tool_cmds.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        status = run_command(sys.argv[1:] if argv is None else argv)
        # A reader that went away (`| head`) shows here, not at exit where Python can only complain.
        sys.stdout.flush()
    except BrokenPipeError:
        # The standard remedy (Python docs, "Note on SIGPIPE"): nothing more can reach the reader, and
        # the interpreter's own flush at exit must not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return status


def run_command(argv: list[str], ctx: Context | None = None) -> int:
    """One command; `ctx` carries an SSH session's settings and operator (default: this process's)."""
    if argv[:1] == ["sim"]:
        # The simulator has its own parser; argparse sub-commands can't pass its options through.
        from poolimport.sim.cli import run

        return run(argv[1:])
    if any(arg == "--password" or arg.startswith("--password=") for arg in argv):
        # argparse would echo the unknown option, password and all, in its usage error.
        print_error("no password on the command line: use --password-stdin or --password-env VAR")
        return 2
    args = build_parser().parse_args(argv)
    ctx = ctx or Context()
    try:
        return int(args.func(ctx, args) or 0)
    except UsageError as exc:
        print_error(exc)
        return 2
    except PoolimportError as exc:
        print_error(exc)
        ctx.record_refusal(" ".join(filter(None, (args.command, getattr(args, "action", None)))), exc)
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except _database_errors()[0] as exc:
        from poolimport.core.db import describe_connect_error

        print_error(f"database unavailable: {describe_connect_error(exc)}")
    except _database_errors()[1] as exc:  # not an outage: a table gone, a constraint the data breaks
        print_error(f"database error: {describe(exc)}")
    return 1


def _database_errors() -> tuple[type[OperationalError], type[SQLAlchemyError]]:
    """Evaluated only when an exception is being matched: a command that never opened the database
    doesn't load SQLAlchemy to find out that it didn't fail there."""
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    return OperationalError, SQLAlchemyError


if __name__ == "__main__":
    sys.exit(main())
