"""`ssh authorized-keys` and `ssh serve`: many operators through one service account, the way gitolite and
Gitea serve many users over SSH.

Each stored key becomes a line of the service account's ~/.ssh/authorized_keys whose forced command is
`poolimport ssh serve --home HOME --key FINGERPRINT`: sshd runs that, whatever the client asked for. serve
takes the operator from the key alone and the installation from HOME alone (variables the client sends
change nothing), then runs the client's command (SSH_ORIGINAL_COMMAND) as that operator, parsed without a
shell, or the TUI when there is none. Over SSH an operator runs operator commands, not server
administration: `init`, `worker`, `sim`, `demo` and `ssh` are refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import re
import shlex
import sys
import unicodedata
from pathlib import Path

from poolimport.cli.context import CliError, Context
from poolimport.cli.output import print_warning
from poolimport.core.access.identity import Identity
from poolimport.core.config import ENV_PREFIX, Settings, load_settings
from poolimport.core.errors import Refusal
from poolimport.core.text import one_line

SERVER_COMMANDS = ("init", "worker", "sim", "demo", "ssh")
SHELL_SYNTAX = set(";|&$`<>()")
# Options that would pick another installation or operator. No command has one today: refused by name all
# the same, so that a command which gains one can't take an SSH session out of its installation.
INSTALLATION_OPTIONS = ("--home", "--database", "--db", "--queue", "--key", "--operator", "--config")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
MAX_SUBJECT = 200


class Refused(Refusal):
    """A command an SSH session may not run."""


def parse_ssh_command(command: str) -> list[str]:
    """The client's command as argv for `poolimport`: split as a shell would, never run by one."""
    syntax = sorted(SHELL_SYNTAX.intersection(command))
    if syntax:
        raise Refused(
            f"shell syntax is not accepted over SSH ({' '.join(syntax)}): no shell runs the command"
        )
    if any(unicodedata.category(char) == "Cc" and char != "\t" for char in command):
        raise Refused("control characters are not accepted over SSH")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise Refused(f"cannot read the command: {exc}") from None
    if not words:
        raise Refused("no command: name one (e.g. `jobs`), or connect without one for the TUI")
    first = words[0]
    if first == "env" or ASSIGNMENT.match(first):
        raise Refused("setting variables is not accepted over SSH: the installation's settings apply")
    if first in SERVER_COMMANDS:
        raise Refused(f"`{first}` is server administration, not available over SSH")
    for index, word in enumerate(words):
        option = word.split("=", 1)[0]
        if option.startswith(INSTALLATION_OPTIONS):
            raise Refused(f"{option} is not accepted over SSH: the installation and your key decide those")
        if option == "--password-env":
            raise Refused("--password-env is not accepted over SSH: use --password-stdin")
        value = word[len(option) + 1 :] if "=" in word else (words[index + 1 : index + 2] or [""])[0]
        if option == "--ssh-key" and value != "-":
            raise Refused("over SSH a key comes on standard input: --ssh-key -")
    return words


def cmd_ssh_serve(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access import audit
    from poolimport.core.access.gate import authenticate
    from poolimport.core.access.operators import key_owner
    from poolimport.core.access.tenancy import AccessDenied, Scope
    from poolimport.core.db import get_engine, session_scope
    from poolimport.core.schema import ensure_current

    settings = _installation(args.home)
    engine = get_engine(settings)
    ensure_current(engine)
    service = authenticate(engine, settings.identity)
    if service.role != "admin" or service.tenant_ids is not None:
        # Only an administrator may act as another operator: the account sshd runs this as must be one.
        raise AccessDenied(
            f"ssh serve must run as the installation's administrator account, not {service.operator}"
        )
    origin = _client_address()
    with session_scope(engine) as session:
        owner = key_owner(session, args.key)
        name = owner.name if owner is not None else None
    if name is None:
        reason = "this SSH key is no longer registered: ask an administrator"
        who = Scope(f"key {args.key}", frozenset(), role="viewer", origin=origin)
        audit.record_refusal(engine, who, "ssh.key", reason)
        raise AccessDenied(reason)
    # The key goes with the identity: every later check of the session (each TUI poll) asks for it again.
    identity = Identity(asker=name, origin=origin, key=args.key)
    as_operator = Context(dataclasses.replace(settings, identity=identity))
    scope = as_operator.scope()
    command = os.environ.get("SSH_ORIGINAL_COMMAND")
    if command is None:
        return _tui(as_operator.settings)
    try:
        argv = parse_ssh_command(command)
    except Refused as exc:
        audit.record_refusal(engine, scope, "ssh.command", str(exc), subject=one_line(command)[:MAX_SUBJECT])
        raise
    from poolimport.cli import run_command  # the package imports this module to register it

    return run_command(argv, as_operator)


def _installation(home: Path) -> Settings:
    """The installation's settings from its home and config.toml alone. The client's POOLIMPORT_ variables
    are dropped from the environment too: what this process loads later (the queue) reads it again."""
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        del os.environ[name]
    os.environ[ENV_PREFIX + "HOME"] = str(home)
    return load_settings()


def _client_address() -> str:
    """Where the session comes from, as sshd tells it (SSH_CONNECTION: client address, port, ours, port)."""
    words = os.environ.get("SSH_CONNECTION", "").split()
    if not words:
        return "local"
    try:
        return str(ipaddress.ip_address(words[0]))
    except ValueError:
        return "unknown"


def _tui(settings: Settings) -> int:
    if not sys.stdin.isatty():
        raise CliError("the TUI needs a terminal: connect with `ssh -t`, or name a command")
    from poolimport.tui.app import main as tui_main

    tui_main(settings)
    return 0


def cmd_ssh_authorized_keys(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.operators import authorized_keys
    from poolimport.core.access.ssh_keys import InvalidKey, authorized_keys_line

    with ctx.reading() as (session, scope):
        keys = authorized_keys(session, scope)
    home = ctx.settings.home.resolve()
    _check_sessions_see_the_same(home)
    program = _program()
    if not keys:
        print_warning(
            "no SSH keys registered: add one with `poolimport operator key add NAME --ssh-key FILE`"
        )
    for name, key in keys:
        command = [program, "ssh", "serve", "--home", str(home), "--key", key.fingerprint]
        try:
            print(authorized_keys_line(key, command, f"poolimport:{name}"))
        except InvalidKey as exc:
            raise CliError(str(exc)) from None
    return 0


def _check_sessions_see_the_same(home: Path) -> None:
    """An SSH session reads HOME and its config.toml only: lines printed while a variable points elsewhere
    (another database, another queue) would not work as printed."""
    here = load_settings({**os.environ, ENV_PREFIX + "HOME": str(home)})
    there = load_settings({ENV_PREFIX + "HOME": str(home)})
    differ = [
        ENV_PREFIX + field.name.upper()
        for field in dataclasses.fields(Settings)
        if field.name != "identity" and getattr(here, field.name) != getattr(there, field.name)
    ]
    if differ:
        verb = "is" if len(differ) == 1 else "are"
        raise CliError(
            f"{', '.join(differ)} {verb} set here but SSH sessions read only {home / 'config.toml'}:"
            " put the setting there, or unset it"
        )


def _program() -> str:
    """The absolute path of this installation's `poolimport`: the one running, or the one beside Python."""
    running = Path(sys.argv[0])
    candidates = [running] if running.name == "poolimport" else []
    candidates.append(Path(sys.executable).parent / "poolimport")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.absolute())
    raise CliError("cannot find the `poolimport` program beside this Python: install the package")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("ssh", help="operators over SSH through one service account")
    ssh = group.add_subparsers(dest="action", required=True)
    p = ssh.add_parser(
        "authorized-keys", help="the lines for the service account's ~/.ssh/authorized_keys, one per key"
    )
    p.set_defaults(func=cmd_ssh_authorized_keys)
    p = ssh.add_parser("serve", help="what an authorized key runs (its forced command); not for people")
    p.add_argument("--home", type=Path, required=True, help="the installation's home")
    p.add_argument("--key", required=True, metavar="FINGERPRINT", help="the key the client came in with")
    p.set_defaults(func=cmd_ssh_serve)
