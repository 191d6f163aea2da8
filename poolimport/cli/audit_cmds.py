"""`audit`: who did what, as whom, from where, and with what outcome, within the asker's tenants."""

from __future__ import annotations

import argparse

from poolimport.cli import arguments
from poolimport.cli.context import Context
from poolimport.cli.output import emit_json, print_table
from poolimport.core.durations import parse_duration

COLUMNS = ["at", "who", "origin", "action", "outcome", "subject", "job_id", "detail"]


def _since(text: str) -> object:
    from poolimport.core.models import utcnow

    try:
        return utcnow() - parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_audit(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.audit import audit_rows
    from poolimport.core.access.tenancy import find_router

    with ctx.reading() as (session, scope):
        router_id = find_router(session, scope, args.router).id if args.router else None
        rows = audit_rows(
            session, scope, since=args.since, operator=args.operator, router_id=router_id, limit=args.limit
        )
    if args.json:
        emit_json(rows)
        return 0
    shown = [
        {**row, "who": f"{row['actor']} as {row['acting_as']}" if row["acting_as"] else row["actor"]}
        for row in rows
    ]
    print_table(shown, COLUMNS, "(nothing recorded)")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("audit", help="every change and refusal, newest first", parents=[common])
    p.add_argument("--since", type=_since, help="only the last 30m, 2h, 7d ...")
    p.add_argument("--operator", help="only what this operator did, or an administrator did as them")
    p.add_argument("--router", help="only what concerns this router (name or id)")
    p.add_argument("--limit", type=arguments.row_limit, default=500, help="at most this many rows (500)")
    p.set_defaults(func=cmd_audit)
