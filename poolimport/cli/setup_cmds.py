"""`init`, `tenant …`, `router …`."""

from __future__ import annotations

import argparse
import os
import sys

from poolimport.cli.context import CliError, Context
from poolimport.cli.output import emit_json, print_fields, print_table, say
from poolimport.core import schema
from poolimport.core.access import require_write
from poolimport.core.db import session_scope
from poolimport.core.models import Router
from poolimport.core.operators import register_first_admin
from poolimport.core.queries import router_rows
from poolimport.core.routers import RouterFields, add_tenant, probe, record_test, remove_router, save_router
from poolimport.core.secrets import ensure_key_file
from poolimport.core.tenancy import find_router


def cmd_init(ctx: Context, args: argparse.Namespace) -> int:
    settings = ctx.settings
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    created_key = ensure_key_file(settings.key_file)
    before, after = schema.upgrade(ctx.engine(check_schema=False))
    if before == after:
        say(f"schema is current ({after}) in {settings.database_url}")
    else:
        say(f"schema {'created' if before is None else 'upgraded'} to {after} in {settings.database_url}")
    say(f"key file {settings.key_file} {'created' if created_key else 'kept'} (mode 0600)")
    with session_scope(ctx.engine()) as session:
        first = register_first_admin(session, settings.identity)
    if first is not None:
        say(f"first administrator: {first.name} (the account running init)")
    return 0


def cmd_tenant_add(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.session() as (session, scope):
        tenant = add_tenant(session, scope, args.name)
        say(f"tenant {tenant.name} added (id {tenant.id})")
    return 0


def cmd_tenant_list(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.reading() as (session, scope):
        rows = [{"id": t.id, "name": t.name} for t in session.scalars(scope.tenants().order_by("name"))]
    emit_json(rows) if args.json else print_table(rows, ["id", "name"])
    return 0


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


def cmd_router_add(ctx: Context, args: argparse.Namespace) -> int:
    fields = RouterFields(
        name=args.name,
        host=args.host,
        username=args.username,
        port=args.port,
        tls=args.tls,
        tls_verify=not args.no_verify,
        ca_file=args.ca_file,
        encoding=args.encoding,
        timeout=args.timeout,
    )
    password = _read_password(args)
    with ctx.session() as (session, scope):
        router = save_router(session, scope, ctx.settings, args.tenant, fields, password)
        say(f"router {router.name} added (id {router.id}) at {router.host}:{router.port}")
    return 0


ROUTER_COLUMNS = [
    "id",
    "name",
    "tenant",
    "host",
    "port",
    "pools",
    "addresses",
    "used",
    "last_status",
    "last_error",
]


def cmd_router_list(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.reading() as (session, scope):
        rows = router_rows(session, scope)
    emit_json(rows) if args.json else print_table(
        rows, ROUTER_COLUMNS, "(no routers: add one with `poolimport router add`)"
    )
    return 0


def cmd_router_test(ctx: Context, args: argparse.Namespace) -> int:
    # The probe waits on the network (up to the router's timeout): not inside a write transaction,
    # which on SQLite would hold the one write lock and stall imports and heartbeats meanwhile.
    with ctx.reading() as (session, scope):
        router = find_router(session, scope, args.router, args.tenant)
    about = {"tenant_id": router.tenant_id, "router_id": router.id, "subject": router.name}
    require_write(ctx.engine(), scope, "test routers (the result is recorded)", "router.test", **about)
    test = probe(router, ctx.settings)
    with ctx.session() as (session, _scope):
        stored = session.get(Router, router.id)
        if stored is not None:
            record_test(stored, test)
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


def cmd_router_remove(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.session() as (session, scope):
        router = find_router(session, scope, args.router, args.tenant)
        name = router.name
        remove_router(session, scope, router)
    say(f"router {name} removed with its pools and jobs")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", help="create or upgrade the database schema and the key file")
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
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, help="default 8728, or 8729 with --tls")
    p.add_argument("--tls", action="store_true", help="use API-SSL")
    p.add_argument("--no-verify", action="store_true", help="do not verify the router's TLS certificate")
    p.add_argument("--ca-file", help="CA bundle to verify the router's certificate")
    p.add_argument("--username", required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    source.add_argument(
        "--password-env", metavar="VAR", help="read the password from environment variable VAR"
    )
    p.add_argument("--timeout", type=float, default=10.0, help="connect and read timeout in seconds")
    p.add_argument("--encoding", default="utf-8", help="the router's text encoding")
    p.set_defaults(func=cmd_router_add)
    p = router.add_parser("list", help="list routers", parents=[common])
    p.set_defaults(func=cmd_router_list)
    for name, func, helptext in (
        ("test", cmd_router_test, "connect and report identity, version and round-trip time"),
        ("remove", cmd_router_remove, "remove a router and everything imported from it"),
    ):
        p = router.add_parser(name, help=helptext, parents=[common] if name == "test" else [])
        p.add_argument("router", help="router name or id")
        p.add_argument("--tenant", help="the router's tenant, where the name exists in several")
        p.set_defaults(func=func)
