"""The `poolimport` command: runs one command and turns expected failures into `error:` lines."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.exc import OperationalError

from poolimport.cli import import_cmds, job_cmds, operator_cmds, setup_cmds, tool_cmds
from poolimport.cli.context import CliError, Context
from poolimport.core.config import ConfigError
from poolimport.core.db import DatabaseError, describe_connect_error
from poolimport.core.jobs import JobRefused
from poolimport.core.routers import InvalidInput
from poolimport.core.schema import SchemaNotReady
from poolimport.core.secrets import SecretError
from poolimport.core.tenancy import AccessDenied, NotFound

EXPECTED = (
    CliError,
    ConfigError,
    DatabaseError,
    SchemaNotReady,
    SecretError,
    AccessDenied,
    NotFound,
    InvalidInput,
    JobRefused,
)


class Parser(argparse.ArgumentParser):
    """Never echoes what it doesn't understand: a mistyped option's value may be a password."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.prog == "poolimport":
            options = [arg.split("=", 1)[0] for arg in extras if arg.startswith("-")]
            hidden = len(extras) - len(options)
            shown = " ".join(options) or "(none)"
            more = f" and {hidden} value(s), not shown" if hidden else ""
            self.error(f"unrecognized arguments: {shown}{more}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser = Parser(prog="poolimport", description="Import MikroTik IP pools into a database.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    setup_cmds.register(sub, common)
    import_cmds.register(sub, common)
    job_cmds.register(sub, common)
    operator_cmds.register(sub, common)
    tool_cmds.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:
        # The simulator has its own parser; argparse sub-commands can't pass its options through.
        from poolimport.sim.cli import run

        return run(argv[1:])
    if any(arg == "--password" or arg.startswith("--password=") for arg in argv):
        # argparse would echo the unknown option, password and all, in its usage error.
        print(
            "error: no password on the command line: use --password-stdin or --password-env VAR",
            file=sys.stderr,
        )
        return 2
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(Context(), args) or 0)
    except EXPECTED as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OperationalError as exc:
        print(f"error: database unavailable: {describe_connect_error(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
