"""`schedule set|list|off`: routers re-synced every interval by the consumers (core.schedule)."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from poolimport.cli.context import CliError, Context, UsageError
from poolimport.cli.output import emit_json, print_table, say
from poolimport.core.durations import describe_interval, describe_span, parse_duration

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from poolimport.core.access.tenancy import Scope
    from poolimport.core.models import Router

COLUMNS = ["router", "tenant", "every", "next run", "last success", "age", "state"]


def _interval(text: str) -> float:
    from poolimport.core.jobs.schedule import check_interval

    try:
        return check_interval(parse_duration(text).total_seconds())
    except ValueError as exc:  # InvalidInput is one
        raise argparse.ArgumentTypeError(str(exc)) from None


def _routers(session: Session, scope: Scope, args: argparse.Namespace) -> list[Router]:
    """The router named, or every router of --tenant."""
    from poolimport.core.access.tenancy import find_router, find_tenant
    from poolimport.core.models import Router

    if args.router:
        return [find_router(session, scope, args.router, args.tenant)]
    if not args.tenant:
        raise UsageError("name a router, or give --tenant for all of its routers")
    tenant = find_tenant(session, scope, args.tenant)
    routers = list(
        session.scalars(scope.routers().where(Router.tenant_id == tenant.id).order_by(Router.name))
    )
    if not routers:
        raise CliError(f"tenant {tenant.name!r} has no routers yet")
    return routers


def cmd_set(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.jobs.schedule import set_schedule

    with ctx.session() as (session, scope):
        routers = _routers(session, scope, args)
        set_schedule(session, scope, routers, args.interval)
    every = describe_interval(args.interval)
    say(f"{len(routers)} router(s) re-synced every {every}: " + ", ".join(r.name for r in routers))
    return 0


def cmd_off(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.jobs.schedule import schedule_off

    with ctx.session() as (session, scope):
        removed = schedule_off(session, scope, _routers(session, scope, args))
    say(f"{removed} schedule(s) switched off")
    return 0


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{describe_span(seconds)} ago"


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.jobs.schedule import schedule_rows
    from poolimport.core.models import utcnow

    now = utcnow()
    with ctx.reading() as (session, scope):
        rows = [row.as_dict(now) for row in schedule_rows(session, scope)]
    if args.json:
        emit_json(rows)
        return 0
    for row in rows:
        row["next run"] = "due" if row["next_in"] <= 0 else f"in {describe_span(row['next_in'])}"
        row["last success"] = row["last_success_at"] or "never"
        row["age"] = _ago(row["age"])
        failing = f"backing off: {row['failures']} failed in a row" if row["backing_off"] else ""
        row["state"] = ", ".join(filter(None, ["OVERDUE" if row["overdue"] else "ok", failing]))
    print_table(rows, COLUMNS, "(no schedules: poolimport schedule set ROUTER 5m)")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    schedule = sub.add_parser("schedule", help="re-sync routers on a schedule").add_subparsers(
        dest="action", required=True
    )
    p = schedule.add_parser("set", help="re-sync a router (or all of --tenant's) every INTERVAL: 30s, 5m, 1h")
    p.add_argument("router", nargs="?", help="router name or id (or --tenant for all its routers)")
    p.add_argument("interval", type=_interval, help="10s at least: 30s, 5m, 1h, 1d")
    # `-5m` is a (refused) interval, not an unknown option: else argparse took the router for it.
    p._negative_number_matcher = re.compile(r"^-\d")
    p.add_argument(
        "--tenant", help="the router's tenant, or every router this tenant has now (not those added later)"
    )
    p.set_defaults(func=cmd_set)
    p = schedule.add_parser(
        "list", help="schedules: interval, next run, last success, data age", parents=[common]
    )
    p.set_defaults(func=cmd_list)
    p = schedule.add_parser("off", help="stop re-syncing a router (or all of --tenant's)")
    p.add_argument("router", nargs="?", help="router name or id")
    p.add_argument("--tenant", help="the router's tenant, or every router of this tenant")
    p.set_defaults(func=cmd_off)
