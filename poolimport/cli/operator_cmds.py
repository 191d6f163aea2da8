"""`operator add|remove|list` and `operator key add|remove|list`: who may see which tenant, who may only
look, and the SSH keys that name an operator on the shared service account."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from poolimport.cli.context import CliError, Context
from poolimport.cli.output import emit_json, print_table, say
from poolimport.core.access.identity import ROLES

if TYPE_CHECKING:
    from poolimport.core.access.ssh_keys import PublicKey

MAX_KEY_FILE = 64 * 1024  # an RSA-16384 .pub is under 3 KB: anything near this is not a public key
STDIN = "-"


def read_public_key(source: str) -> PublicKey:
    """The key in FILE (or on standard input for `-`); a bad one is one line that never quotes it."""
    from poolimport.core.access.ssh_keys import InvalidKey, PrivateKeyGiven, parse_public_key

    name = "standard input" if source == STDIN else Path(source).name
    try:
        if source == STDIN:
            text = sys.stdin.read(MAX_KEY_FILE + 1)
        else:
            with open(source, encoding="utf-8", errors="replace") as handle:
                text = handle.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise CliError(f"cannot read {source}: {exc.strerror}") from None
    if len(text) > MAX_KEY_FILE:
        raise CliError(f"{name} is larger than {MAX_KEY_FILE // 1024} KB: not a public key")
    try:
        return parse_public_key(text)
    except PrivateKeyGiven as exc:
        raise CliError(f"{name} {exc}" + ("" if source == STDIN else f" ({name}.pub)")) from None
    except InvalidKey as exc:
        raise CliError(f"{name} {exc}") from None


def _key_added(fingerprint: str, comment: str | None, name: str) -> None:
    say(f"key {fingerprint}{f' ({comment})' if comment else ''} added for {name}")


def cmd_operator_add(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.operators import add_key, add_operator

    key = read_public_key(args.ssh_key) if args.ssh_key else None
    with ctx.session() as (session, scope):
        add_operator(session, scope, args.name, args.tenant, args.role, args.every_tenant)
        stored = add_key(session, scope, args.name, key) if key else None
        added = (stored.fingerprint, stored.comment) if stored else None
    where = f"tenant {args.tenant}" if args.tenant else "every tenant"
    say(f"operator {args.name} added: {args.role} of {where}")
    if added is not None:
        _key_added(*added, args.name)
    return 0


def cmd_operator_remove(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.operators import remove_operator

    with ctx.session() as (session, scope):
        keys = remove_operator(session, scope, args.name)
    say(f"operator {args.name} removed, with {keys} SSH key{'s' if keys != 1 else ''}")
    return 0


def cmd_operator_list(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.operators import operator_rows

    with ctx.reading() as (session, scope):
        rows = operator_rows(session, scope)
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, ["name", "role", "tenant", "keys"], "(no operators in your tenants)")
    return 0


def cmd_key_add(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.operators import add_key

    key = read_public_key(args.ssh_key)
    with ctx.session() as (session, scope):
        stored = add_key(session, scope, args.name, key)
        fingerprint, comment = stored.fingerprint, stored.comment
    _key_added(fingerprint, comment, args.name)
    return 0


def cmd_key_remove(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.operators import remove_key

    with ctx.session() as (session, scope):
        remove_key(session, scope, args.name, args.fingerprint)
    say(f"key {args.fingerprint} of {args.name} removed: run `poolimport ssh authorized-keys` again")
    return 0


def cmd_key_list(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.operators import key_rows

    with ctx.reading() as (session, scope):
        rows = key_rows(session, scope, args.name)
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, ["operator", "type", "fingerprint", "comment", "added"], "(no SSH keys)")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("operator", help="manage operators and their SSH keys")
    operator = group.add_subparsers(dest="action", required=True)
    p = operator.add_parser("add", help="register an operator (an administrator's task)")
    p.add_argument("name")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--tenant", help="the one tenant they see (an operator's or viewer's)")
    where.add_argument(
        "--every-tenant", action="store_true", help="an operator or viewer who sees every tenant"
    )
    p.add_argument("--role", choices=ROLES, default="operator")
    p.add_argument(
        "--ssh-key", metavar="FILE", help="their OpenSSH public key (.pub; - reads standard input)"
    )
    p.set_defaults(func=cmd_operator_add)
    p = operator.add_parser("remove", help="remove an operator and their SSH keys")
    p.add_argument("name")
    p.set_defaults(func=cmd_operator_remove)
    p = operator.add_parser("list", help="operators of your tenants", parents=[common])
    p.set_defaults(func=cmd_operator_list)

    key = operator.add_parser("key", help="an operator's SSH keys").add_subparsers(
        dest="key_action", required=True
    )
    p = key.add_parser("add", help="add an OpenSSH public key that names the operator over SSH")
    p.add_argument("name", help="the operator")
    p.add_argument("--ssh-key", metavar="FILE", required=True, help="the .pub file; - reads standard input")
    p.set_defaults(func=cmd_key_add)
    p = key.add_parser("remove", help="remove a key by its fingerprint (SHA256:…)")
    p.add_argument("name", help="the operator")
    p.add_argument("fingerprint")
    p.set_defaults(func=cmd_key_remove)
    p = key.add_parser("list", help="SSH keys of your tenants' operators", parents=[common])
    p.add_argument("name", nargs="?", help="only this operator's keys")
    p.set_defaults(func=cmd_key_list)
