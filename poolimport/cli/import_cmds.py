"""`import --sync`, `pools`, `addresses`: the import run in this process and what it stored."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from poolimport.cli import arguments
from poolimport.cli.context import CliError, Context
from poolimport.cli.output import emit_json, print_error, print_table, print_warning, say
from poolimport.core.statuses import AddressStatus, JobStatus, PoolOutcome

if TYPE_CHECKING:
    from poolimport.core.imports.run import ImportResult


def dry_run_summary(result: ImportResult) -> str:
    """What a dry run would do to the pools: a pool read but unchanged (or failed) would not change."""
    changing = sum(d.outcome in (PoolOutcome.ADDED, PoolOutcome.CHANGED) for d in result.details)
    stale = result.pools["stale"]
    going = f", {stale:,} would go stale" if stale else ""
    return f"dry run: {changing:,} of {result.pools['total']:,} pools would change{going}"


def error_text(error: Mapping[str, Any]) -> str:
    """One error of an import's result, as `import --sync` and `job show` print it: the pool it concerns
    first, where it concerns one."""
    where = f"pool {error['pool']}: " if error["pool"] else ""
    return f"{where}{error['message']}"


def print_result(result: ImportResult) -> None:
    dry_run = " (dry run)" if result.dry_run else ""
    say(f"{result.router}: {result.status} in {result.seconds:.2f} s{dry_run}")
    p, a = result.pools, result.addresses
    imported = "" if result.dry_run else f"{p['imported']:,} imported, "
    print(f"pools:     {p['total']:,} total, {imported}{p['failed']:,} failed, {p['stale']:,} stale")
    print(f"addresses: {a['added']:,} added, {a['updated']:,} updated, {a['stale']:,} stale, ", end="")
    print(f"{a['total']:,} total")
    if result.dry_run and result.details:
        rows = [vars(d) for d in result.details]
        print_table(rows, ["name", "family", "outcome", "total", "added", "updated", "stale"])
    for error in result.errors:
        print_error(error_text(error))
    for warning in result.warnings:
        print_warning(warning)
    if result.dry_run:
        say(dry_run_summary(result))


def import_json(
    job_ids: Sequence[int], refused: Sequence[str] = (), results: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """What `import --json` prints, one object whatever the mode and outcome: the jobs created, each
    refusal's reason, and with --sync or --wait each job at its end as `jobs --json` shows it (its
    `result` the import's own); `results` is empty otherwise."""
    return {"job_ids": list(job_ids), "refused": list(refused), "results": list(results)}


def run_sync(ctx: Context, args: argparse.Namespace) -> int:
    """The import runs here, but as a job like any other: the same claim on the router, row and events."""
    from poolimport.core.access.tenancy import find_router
    from poolimport.core.jobs.lifecycle import create_job, finish, get_job
    from poolimport.core.jobs.queries import job_row
    from poolimport.core.jobs.runner import execute_job
    from poolimport.core.models import JobSource
    from poolimport.core.routers.records import refusal_recorded

    settings = ctx.settings
    with refusal_recorded(ctx.engine(), "import.sync") as attempt, ctx.session() as (session, scope):
        attempt.scope = scope
        job_id = create_job(
            session,
            scope,
            find_router(session, scope, args.router, args.tenant),
            time_limit=settings.job_time_limit,
            heartbeat_interval=settings.heartbeat_interval,
            dry_run=args.dry_run,
            source=JobSource.SYNC,
        ).id
    try:
        run = execute_job(ctx.engine(), settings, job_id)
    except KeyboardInterrupt:
        with ctx.engine().begin() as conn:
            finish(conn, job_id, JobStatus.CANCELLED, error="interrupted in the terminal")
        raise
    if run is None:
        if args.json:
            emit_json(import_json([job_id]))
        raise CliError(f"job #{job_id} was taken before it could start")
    result = run.result
    if args.json:
        with ctx.reading() as (session, scope):
            row = job_row(get_job(session, scope, job_id), settings.heartbeat_interval)
        ended = {**row, "result": result.to_dict(with_details=args.dry_run)}  # a dry run's per pool too
        emit_json(import_json([job_id], results=[ended]))
    else:
        print_result(result)
    return 0 if result.status == JobStatus.SUCCEEDED else 1


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
    from poolimport.core.access.tenancy import find_router
    from poolimport.core.queries import pool_rows

    with ctx.reading() as (session, scope):
        router = find_router(session, scope, args.router, args.tenant)
        rows = pool_rows(session, scope, router.id)
    if args.json:
        emit_json(rows)
    else:
        print_table(rows, POOL_COLUMNS, f"(no pools imported from {router.name} yet)")
    return 0


def cmd_addresses(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.tenancy import find_router
    from poolimport.core.queries import address_rows, find_pools

    with ctx.reading() as (session, scope):
        router = find_router(session, scope, args.router, args.tenant)
        pools = find_pools(session, scope, router.id, args.pool, args.family)
        if not pools:
            family = f"IPv{args.family} " if args.family else ""
            raise CliError(f"router {router.name} has no {family}pool named {args.pool!r}")
        if len(pools) > 1:
            raise CliError(
                f"router {router.name} has an IPv4 and an IPv6 pool named {args.pool!r}: add --family 4 or 6"
            )
        rows = address_rows(session, scope, pools[0].id, args.status, args.limit, search=args.search)
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
    p.add_argument("--status", choices=[str(status) for status in AddressStatus])  # words, not reprs
    p.add_argument(
        "--search", metavar="TEXT", help="only addresses with TEXT in the address, owner or info (any case)"
    )
    p.add_argument(
        "--family", type=int, choices=(4, 6), help="IPv4 or IPv6, where both have a pool of the name"
    )
    p.add_argument("--limit", type=arguments.row_limit, help="at most this many rows")
    p.add_argument("--tenant")
    p.set_defaults(func=cmd_addresses)
