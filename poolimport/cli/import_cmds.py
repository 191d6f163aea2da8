"""`import --sync`, `pools`, `addresses`: the import run in this process and what it stored."""

from __future__ import annotations

import argparse

from poolimport.cli import arguments
from poolimport.cli.context import CliError, Context
from poolimport.cli.output import emit_json, print_error, print_table, print_warning, say
from poolimport.core.importer import ImportResult, run_import
from poolimport.core.queries import ADDRESS_STATUSES, address_rows, find_pool, pool_rows
from poolimport.core.tenancy import find_router


def print_result(result: ImportResult) -> None:
    verb = "would change" if result.dry_run else "imported"
    dry_run = " (dry run)" if result.dry_run else ""
    say(f"{result.router}: {result.status} in {result.seconds:.2f} s{dry_run}")
    p, a = result.pools, result.addresses
    print(f"pools:     {p['total']:,} total, {p['imported']:,} {verb}, {p['failed']:,} failed, ", end="")
    print(f"{p['stale']:,} stale")
    print(f"addresses: {a['added']:,} added, {a['updated']:,} updated, {a['stale']:,} stale, ", end="")
    print(f"{a['total']:,} total")
    if result.dry_run and result.details:
        rows = [vars(d) for d in result.details]
        print_table(rows, ["name", "family", "outcome", "total", "added", "updated", "stale"])
    for error in result.errors:
        where = f"pool {error['pool']}: " if error["pool"] else ""
        print_error(f"{where}{error['message']}")
    for warning in result.warnings:
        print_warning(warning)


def run_sync(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.session() as (session, scope):
        router = find_router(session, scope, args.router, args.tenant)
        if not args.dry_run:
            scope.require_write("import")
        router_id = router.id
    result = run_import(ctx.engine(), ctx.settings, router_id, dry_run=args.dry_run)
    if args.json:
        emit_json(result.to_dict(with_details=args.dry_run))
    else:
        print_result(result)
    return 0 if result.status == "succeeded" else 1


POOL_COLUMNS = [
    "name",
    "family",
    "ranges",
    "prefix_length",
    "total",
    "used",
    "free",
    "stale",
    "status",
    "comment",
]


def cmd_pools(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.reading() as (session, scope):
        router = find_router(session, scope, args.router, args.tenant)
        rows = pool_rows(session, router.id)
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, POOL_COLUMNS, f"(no pools imported from {router.name} yet)")
    return 0


def cmd_addresses(ctx: Context, args: argparse.Namespace) -> int:
    with ctx.reading() as (session, scope):
        router = find_router(session, scope, args.router, args.tenant)
        pool = find_pool(session, router.id, args.pool)
        if pool is None:
            raise CliError(f"router {router.name} has no pool named {args.pool!r}")
        rows = address_rows(session, pool.id, args.status, args.limit)
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, ["address", "status", "owner", "info"])
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("pools", help="pools imported from a router", parents=[common])
    p.add_argument("router", help="router name or id")
    p.add_argument("--tenant")
    p.set_defaults(func=cmd_pools)

    p = sub.add_parser("addresses", help="addresses of one pool", parents=[common])
    p.add_argument("router", help="router name or id")
    p.add_argument("pool", help="pool name")
    p.add_argument("--status", choices=ADDRESS_STATUSES)
    p.add_argument("--limit", type=arguments.row_limit, help="at most this many rows")
    p.add_argument("--tenant")
    p.set_defaults(func=cmd_addresses)
