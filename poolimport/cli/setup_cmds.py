"""`init`, `tenant …`, `router …`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from poolimport.cli.context import CliError, Context, UsageError
from poolimport.cli.output import emit_json, print_fields, print_table, say
from poolimport.core.config import masked_url, sqlite_queue_file
from poolimport.core.private_files import make_private, private_dir, sqlite_files
from poolimport.core.routers.fields import FIELD_DEFAULTS, FIELD_NAMES, RouterFields, fields_of

if TYPE_CHECKING:
    from poolimport.core.access.tenancy import Scope


def _asker(ctx: Context) -> Scope:
    """Who runs the command, for the audit; someone the operators table doesn't know may do nothing more."""
    from poolimport.core.access.tenancy import AccessDenied, Scope

    try:
        with ctx.reading() as (_session, scope):
            return scope
    except AccessDenied:
        return Scope(operator=ctx.settings.operator, tenant_ids=frozenset(), role="viewer")


def cmd_init(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core import schema
    from poolimport.core.access.operators import register_first_admin
    from poolimport.core.db import session_scope
    from poolimport.core.secrets.box import old_key_file
    from poolimport.core.secrets.keys import routers_counted, set_up_key

    settings = ctx.settings
    private_dir(settings.home)
    private_dir(settings.log_dir)
    before, after = schema.upgrade(ctx.engine(check_schema=False))
    where = masked_url(settings.database_url)
    if before == after:
        say(f"schema is current ({after}) in {where}")
    else:
        say(f"schema {'created' if before is None else 'upgraded'} to {after} in {where}")
    with session_scope(ctx.engine()) as session:
        first = register_first_admin(session, settings.identity)
    if first is not None:
        say(f"first administrator: {first.name} (the account running init)")
    key = set_up_key(ctx.engine(), _asker(ctx), settings.key_file, new_key=args.new_key)
    say(f"key file {settings.key_file} {'created' if key.created else 'kept'} (mode 0600)")
    if key.marked:
        say(
            f"{routers_counted(key.marked)} marked 'password needed': set each one's password again with"
            " `poolimport router edit NAME --password-stdin`"
        )
    # Files an older version left readable by every local user (the database was tightened on connect).
    queue = sqlite_queue_file(settings.queue_url)
    ours = [settings.home, settings.log_dir, *settings.log_dir.glob("poolimport.log*")]
    ours += [settings.key_file, old_key_file(settings.key_file), *(sqlite_files(queue) if queue else [])]
    tightened = make_private(ours)
    if tightened:
        say(f"made private to this account (folders 0700, files 0600): {', '.join(map(str, tightened))}")
    return 0


def cmd_tenant_add(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.routers.records import add_tenant

    with ctx.session() as (session, scope):
        tenant = add_tenant(session, scope, args.name)
        say(f"tenant {tenant.name} added (id {tenant.id})")
    return 0


def cmd_tenant_list(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.reading() as (session, scope):
        rows = [{"id": t.id, "name": t.name} for t in session.scalars(scope.tenants().order_by("name"))]
    emit_json(rows) if args.json else print_table(rows, ["id", "name"])
    return 0


def _password_options(parser: argparse.ArgumentParser, required: bool) -> None:
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    source.add_argument(
        "--password-env", metavar="VAR", help="read the password from environment variable VAR"
    )


def _read_password(args: argparse.Namespace) -> str:
    if args.password_env:
        if not args.password_env.isidentifier():
            raise CliError("--password-env takes the name of an environment variable, not the password")
        value = os.environ.get(args.password_env)
        if not value:
            raise CliError(f"environment variable {args.password_env} is not set or empty")
        return value
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise CliError("no password on standard input")
    return value


def _check_tls_options(tls: bool, insecure: bool, ca_file: str | None) -> None:
    for option, given in (("--tls-insecure", insecure), ("--ca-file", ca_file)):
        if given and not tls:
            raise UsageError(f"{option} needs --tls")


def cmd_router_add(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.routers.records import refusal_recorded, save_router

    _check_tls_options(args.tls, not args.tls_verify, args.ca_file)
    fields = RouterFields.from_values(vars(args))
    password = _read_password(args)
    with refusal_recorded(ctx.engine(), "router.add") as attempt, ctx.session() as (session, scope):
        attempt.scope, attempt.about = scope, {"subject": fields.name}
        router = save_router(session, scope, ctx.settings, args.tenant, fields, password)
        say(f"router {router.name} added (id {router.id}) at {router.host}:{router.port}")
    return 0


def _edited(args: argparse.Namespace, before: RouterFields) -> RouterFields:
    """The router's fields with what the command line changes; what it doesn't mention stays."""
    changes = {name: getattr(args, name) for name in FIELD_NAMES if getattr(args, name) is not None}
    if args.no_ca_file:
        changes["ca_file"] = None
    edited = replace(before, **changes)
    _check_tls_options(edited.tls, args.tls_verify is False, args.ca_file)
    return edited


def cmd_router_edit(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.tenancy import find_router
    from poolimport.core.routers.records import refusal_recorded, save_router

    given = args.password_stdin or args.password_env
    password = _read_password(args) if given else None
    with refusal_recorded(ctx.engine(), "router.edit") as attempt, ctx.session() as (session, scope):
        attempt.scope = scope
        router = find_router(session, scope, args.router, args.tenant)
        attempt.concerns(router)
        fields = _edited(args, fields_of(router))
        tenant = args.move_to or router.tenant.name
        router = save_router(session, scope, ctx.settings, tenant, fields, password, router)
        changed = " and its password" if password else ""
        say(f"router {router.name}{changed} saved (id {router.id}) at {router.host}:{router.port}")
    return 0


ROUTER_COLUMNS = [
    "id",
    "name",
    "tenant",
    "host",
    "port",
    "tls",
    "pools",
    "addresses",
    "used",
    "last_status",
    "last_error",
]


def tls_shown(row: Mapping[str, Any]) -> str:
    """How the router's API-SSL certificate is checked, in a word."""
    if not row["tls"]:
        return "no"
    if not row["tls_verify"]:
        return "insecure"
    return "private-ca" if row["ca_file"] else "verified"


def cmd_router_list(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.queries import router_rows

    with ctx.reading() as (session, scope):
        rows = router_rows(session, scope)
    if args.json:
        emit_json(rows)
    else:
        shown = [{**row, "tls": tls_shown(row)} for row in rows]
        print_table(shown, ROUTER_COLUMNS, "(no routers: add one with `poolimport router add`)")
    return 0


def cmd_router_test(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.tenancy import find_router
    from poolimport.core.routers.records import probe, refusal_recorded, save_test

    # The probe waits on the network (up to the router's timeout): not inside a write transaction,
    # which on SQLite would hold the one write lock and stall imports and heartbeats meanwhile.
    with refusal_recorded(ctx.engine(), "router.test") as attempt:
        with ctx.reading() as (session, scope):
            attempt.scope = scope
            router = find_router(session, scope, args.router, args.tenant)
            attempt.concerns(router)
            scope.require_write("test routers (the result is recorded)")
        test = probe(router, ctx.settings)
    with ctx.session() as (session, scope):
        save_test(session, scope, router.id, test)
    data = {
        "router": router.name,
        "ok": test.ok,
        "identity": test.identity,
        "version": test.version,
        "rtt_ms": test.rtt_ms,
        "error": test.error,
    }
    if args.json:
        emit_json(data)
    elif test.ok:
        print_fields({k: v for k, v in data.items() if k != "error"})
    if not test.ok:
        raise CliError(f"{data['router']}: {test.error}")
    return 0


def _confirm(question: str, refused: str) -> None:
    """Asked on the terminal only: an answer piped in was not typed by someone reading the question.
    Raises CliError (`refused`, and why) unless the answer is yes."""
    if not sys.stdin.isatty():
        raise CliError(f"{refused}: confirm on a terminal, or pass --yes")
    answer = input(f"{question} [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError(f"{refused}: not confirmed")


def cmd_router_remove(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.tenancy import find_router
    from poolimport.core.routers.records import check_may_remove, refusal_recorded, remove_router

    with refusal_recorded(ctx.engine(), "router.remove") as attempt, ctx.session() as (session, scope):
        attempt.scope = scope
        router = find_router(session, scope, args.router, args.tenant)
        attempt.concerns(router)
        name = router.name
        check_may_remove(scope)
        question = f"remove router {name} with its pools, addresses and jobs, for good?"
        if not args.yes:
            _confirm(question, f"router {name} kept")
        remove_router(session, scope, router)
    say(f"router {name} removed with its pools and jobs")
    return 0


def _router_field_options(p: argparse.ArgumentParser, *, editing: bool) -> None:
    """The router's fields (RouterFields) as options: required or defaulted when adding; when editing,
    each optional and, when not given, left as it is."""

    def value(flag: str, field: str, **kwargs: Any) -> None:
        required = not editing and field not in FIELD_DEFAULTS
        default = None if editing else FIELD_DEFAULTS.get(field)
        p.add_argument(flag, dest=field, required=required, default=default, **kwargs)

    value("--host", "host", help="the router's address or host name")
    value("--port", "port", type=int, help="default 8728, or 8729 with --tls")
    value("--username", "username", help="the API user")
    if editing:
        p.add_argument(
            "--tls", action=argparse.BooleanOptionalAction, help="use API-SSL (--no-tls: plain API)"
        )
    else:
        p.add_argument("--tls", action="store_true", help="use API-SSL, verifying the router's certificate")
    check = p.add_mutually_exclusive_group()
    check.add_argument(
        "--tls-insecure",
        dest="tls_verify",
        action="store_false",
        default=None if editing else FIELD_DEFAULTS["tls_verify"],
        help="do not verify the router's certificate",
    )
    # A CA file means checking the certificate: never with --tls-insecure; when editing, --no-ca-file
    # drops it instead.
    ca = p.add_mutually_exclusive_group() if editing else check
    ca.add_argument("--ca-file", help="verify the router's certificate against this CA (a private CA)")
    if editing:
        check.add_argument(
            "--tls-verify", dest="tls_verify", action="store_true", default=None, help="verify it again"
        )
        ca.add_argument("--no-ca-file", action="store_true", help="verify against the system's CAs again")
    value("--timeout", "timeout", type=float, help="connect and read timeout in seconds")
    value("--encoding", "encoding", help="the router's text encoding")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", help="create or upgrade the database schema and the key file")
    p.add_argument(
        "--new-key",
        action="store_true",
        help="the key of the stored passwords is lost: start over, every router needs its password again",
    )
    p.set_defaults(func=cmd_init)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(dest="action", required=True)
    p = tenant.add_parser("add", help="add a tenant")
    p.add_argument("name")
    p.set_defaults(func=cmd_tenant_add)
    p = tenant.add_parser("list", help="list tenants", parents=[common])
    p.set_defaults(func=cmd_tenant_list)

    router = sub.add_parser("router", help="manage routers").add_subparsers(dest="action", required=True)
    p = router.add_parser("add", help="add a router (password from stdin or an environment variable)")
    p.add_argument("name")
    p.add_argument("--tenant", required=True)
    _router_field_options(p, editing=False)
    _password_options(p, required=True)
    p.set_defaults(func=cmd_router_add)

    p = router.add_parser(
        "edit",
        help="change a router; a new host, port, username or TLS setting needs the password again",
    )
    p.add_argument("router", help="router name or id")
    p.add_argument("--tenant", help="the router's tenant, where the name exists in several")
    p.add_argument("--name", help="rename the router")
    p.add_argument("--move-to", metavar="TENANT", help="move the router to another tenant")
    _router_field_options(p, editing=True)
    _password_options(p, required=False)
    p.set_defaults(func=cmd_router_edit)
    p = router.add_parser("list", help="list routers", parents=[common])
    p.set_defaults(func=cmd_router_list)
    for name, func, helptext in (
        ("test", cmd_router_test, "connect and report identity, version and round-trip time"),
        ("remove", cmd_router_remove, "remove a router and everything imported from it"),
    ):
        p = router.add_parser(name, help=helptext, parents=[common] if name == "test" else [])
        p.add_argument("router", help="router name or id")
        p.add_argument("--tenant", help="the router's tenant, where the name exists in several")
        if name == "remove":
            p.add_argument("--yes", action="store_true", help="don't ask (for scripts)")
        p.set_defaults(func=func)
