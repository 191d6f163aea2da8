"""`workers` and `stats`: which consumers are alive and what they run; how the queue is doing."""

from __future__ import annotations

import argparse

from poolimport.cli.context import Context
from poolimport.cli.output import emit_json, print_fields, print_table, print_warning


def cmd_workers(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.consumers import consumer_rows

    with ctx.reading() as (session, scope):
        rows = [row.as_dict() for row in consumer_rows(session, scope, ctx.settings.heartbeat_interval)]
    if args.json:
        emit_json(rows)
        return 0
    for row in rows:
        row["state"] = "alive" if row["alive"] else "gone"
        row["running"] = ", ".join(f"#{job}" for job in row["running"]) or "-"
    columns = ["name", "state", "threads", "started_at", "seen_at", "running"]
    print_table(rows, columns, "(no consumer has checked in: start one with `poolimport worker`)")
    return 0


def cmd_stats(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.metrics import NO_CONSUMER, queue_stats

    with ctx.reading() as (session, scope):
        stats = queue_stats(session, scope, ctx.settings.heartbeat_interval)
    if args.json:
        emit_json(stats.as_dict())
        return 0
    summary = stats.as_dict()
    failing = summary.pop("failing_routers")
    summary.pop("stuck")
    print_fields(summary)
    if failing:
        columns = [
            "router",
            "tenant",
            "failed_hour",
            "jobs_hour",
            "failure_rate_hour",
            "failed_day",
            "jobs_day",
        ]
        print_table(failing, [*columns, "failure_rate_day"])
    if stats.stuck:
        print_warning(NO_CONSUMER)
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "workers", help="consumers: alive or gone, threads, what each is running", parents=[common]
    )
    p.set_defaults(func=cmd_workers)
    p = sub.add_parser("stats", help="queue depth, waits, jobs per minute, failing routers", parents=[common])
    p.set_defaults(func=cmd_stats)
