"""`import` (queued), `jobs`, `job show`, `logs`, `failed`, `retry`, `dismiss`, `cancel`, `flush --stuck`,
`worker`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from poolimport.cli import arguments
from poolimport.cli.context import CliError, Context, UsageError
from poolimport.cli.import_cmds import error_text, import_json, run_sync
from poolimport.cli.output import emit_json, print_error, print_fields, print_table, say
from poolimport.core.config import masked_url
from poolimport.core.errors import Refusal
from poolimport.core.statuses import FINISHED_JOB_STATUSES, JobStatus

if TYPE_CHECKING:
    from poolimport.core.jobs.actions import JobActions
    from poolimport.core.jobs.queries import EventRow, JobRow

JOB_COLUMNS = [
    "id",
    "router",
    "status",
    "source",
    "attempt",
    "pools",
    "addresses",
    "queued_at",
    "elapsed",
    "error",
]
FOLLOW_POLL = 0.25
EXIT_BY_STATUS = {JobStatus.SUCCEEDED: 0, JobStatus.PARTIAL: 3, JobStatus.FAILED: 1, JobStatus.CANCELLED: 4}


def _actions(ctx: Context) -> JobActions:
    from poolimport.core.jobs.actions import JobActions

    try:
        from poolimport.queue.app import QueueClient

        queue = QueueClient.from_settings(ctx.settings)
    except Exception as exc:  # a bad queue URL or a missing Redis driver
        raise CliError(f"queue unavailable: {exc}") from None
    ctx.engine()
    return JobActions(ctx.settings, queue.send_import, queue.revoke)


def _progress_cells(row: JobRow) -> dict[str, Any]:
    return {
        **row,
        "pools": f"{row['pools_done']}/{row['pools_total']}",
        "addresses": f"{row['addresses_done']:,}/{row['addresses_total']:,}",
    }


def cmd_import(ctx: Context, args: argparse.Namespace) -> int:
    try:
        return _import(ctx, args)
    except Refusal as exc:  # the whole request refused (the router held, not found, not the asker's)
        if args.json:
            emit_json(import_json([], [str(exc)]))
        raise


def _import(ctx: Context, args: argparse.Namespace) -> int:
    if args.sync:
        if args.all or args.router is None:
            raise UsageError("--sync imports one router: name it")
        return run_sync(ctx, args)
    if bool(args.all) == bool(args.router):
        raise UsageError("name a router, or pass --all")
    from poolimport.core.access.tenancy import find_router, find_tenant

    actions = _actions(ctx)
    with ctx.reading() as (session, scope):
        if args.all:
            tenant_id = find_tenant(session, scope, args.tenant).id if args.tenant else None
        else:
            router_id = find_router(session, scope, args.router, args.tenant).id
    if args.all:
        outcome = actions.import_all(tenant_id, args.dry_run)
    else:
        outcome = actions.import_routers([router_id], args.dry_run)
    created, refused = outcome.created, outcome.refused
    if not args.json:
        for new_id in created:
            say(f"job #{new_id} queued")
    for message in refused:
        print_error(message)
    # Known to exist, queued just now: from here on, one that can't be read went with its router.
    waited = created if args.wait else []
    followed = [_follow(ctx, new_id, show_events=not args.json, known=True) for new_id in waited]
    ended = [row for row in followed if row is not None]
    if args.json:
        emit_json(import_json(created, refused, ended))
    if not created:
        return 1
    gone = len(ended) < len(followed)
    return max([1 if refused or gone else 0, *(_exit_status(row) for row in ended)])


def _print_event(event: EventRow) -> None:
    from poolimport.core.jobs.queries import event_text

    say(f"{event['time']} {event['level'].upper():7} {event_text(event)}", flush=True)


def _status_now(ctx: Context, job_id: int) -> JobRow:
    from poolimport.core.jobs.lifecycle import get_job
    from poolimport.core.jobs.queries import job_row

    with ctx.reading() as (session, scope):
        return job_row(get_job(session, scope, job_id), ctx.settings.heartbeat_interval)


def _queued_hint(ctx: Context, job_id: int) -> str:
    """Why a job may still be queued: no consumer, or one that dropped its message (and logged why)."""
    from poolimport.core.consumers import alive_count

    with ctx.reading() as (session, _scope):
        alive = alive_count(session, ctx.settings.heartbeat_interval)
    if not alive:
        return f"job #{job_id} is still queued: is a consumer (`poolimport worker`) running?"
    consumers, they = ("1 consumer is", "it is") if alive == 1 else (f"{alive} consumers are", "they are")
    return (
        f"job #{job_id} is still queued: {consumers} running, and none has taken it; unless {they} busy"
        " with other jobs, check the consumers' log: a message a consumer can't verify (signed with another"
        " key file, say) is dropped there with a warning"
    )


def _follow(ctx: Context, job_id: int, show_events: bool = True, known: bool = False) -> JobRow | None:
    """Print events as they come until the job ends (or is seen stalled); the job as it ended. None, and
    said, when it went with its router meanwhile: it was queued, so that is no refusal of the import."""
    from poolimport.core.access.tenancy import NotFound
    from poolimport.core.jobs.queries import event_rows
    from poolimport.queue.polling import QUEUED_HINT_AFTER

    last_event, seen = 0, known
    hint_at = time.monotonic() + QUEUED_HINT_AFTER
    while True:
        try:
            row = _status_now(ctx, job_id)
        except NotFound:
            if not seen:
                raise  # never there (or never the asker's): refused, as any read of it
            print_error(f"job #{job_id} is gone: its router was removed, or it is no longer in your tenants")
            return None
        seen = True
        if row["status"] == JobStatus.QUEUED and hint_at and time.monotonic() > hint_at:
            print(_queued_hint(ctx, job_id), file=sys.stderr)
            hint_at = 0.0
        with ctx.reading() as (session, scope):
            events = event_rows(session, scope, job_id, last_event)
        for event in events:
            last_event = event["id"]
            if show_events:
                _print_event(event)
        if row["status"] in FINISHED_JOB_STATUSES or row["status"] == JobStatus.STALLED:
            if show_events:
                say(f"job #{job_id} {row['status']}", flush=True)
            return row
        time.sleep(FOLLOW_POLL)


def _exit_status(row: JobRow) -> int:
    return EXIT_BY_STATUS.get(JobStatus(row["status"]), 5)


def cmd_jobs(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.access.tenancy import find_router
    from poolimport.core.jobs.queries import JobFilter, list_jobs

    with ctx.reading() as (session, scope):
        router_id = find_router(session, scope, args.router).id if args.router else None
        rows = list_jobs(
            session,
            scope,
            ctx.settings.heartbeat_interval,
            status=args.status,
            router_id=router_id,
            limit=args.limit,
            where=JobFilter(search=args.search or ""),
        )
    emit_json(rows) if args.json else print_table(
        [_progress_cells(r) for r in rows], JOB_COLUMNS, "(no jobs)"
    )
    return 0


def cmd_failed(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.jobs.queries import FAILED_OR_STALLED, list_jobs

    with ctx.reading() as (session, scope):
        rows = list_jobs(
            session, scope, ctx.settings.heartbeat_interval, status=FAILED_OR_STALLED, limit=args.limit
        )
    emit_json(rows) if args.json else print_table(
        [_progress_cells(r) for r in rows], JOB_COLUMNS, "(no failed jobs)"
    )
    return 0


def cmd_job_show(ctx: Context, args: argparse.Namespace) -> int:
    from poolimport.core.jobs.queries import attempt_text, job_detail, pool_line_text

    with ctx.reading() as (session, scope):
        detail = job_detail(session, scope, args.id, ctx.settings.heartbeat_interval)
    row = detail["job"]
    if args.json:
        emit_json(
            {
                **row,
                "waited": detail["waited"],
                "ran": detail["ran"],
                "pools": detail["pools"],
                "attempts": detail["attempts"],
            }
        )
        return 0
    result = row["result"]
    print_fields(
        {
            **{key: value for key, value in row.items() if key != "result"},
            "waited": detail["waited"],
            "ran": detail["ran"],
        }
    )
    if result:
        print_fields({"pools": result["pools"], "addresses": result["addresses"]})
        for error in result["errors"]:
            say(f"  error: {error_text(error)}")
        for warning in result["warnings"]:
            say(f"  warning: {warning}")
    if detail["pools"]:
        say("per pool:")
        for line in detail["pools"]:
            say(f"  {pool_line_text(line)}")
    if len(detail["attempts"]) > 1:
        say("attempts:")
        for attempt in detail["attempts"]:
            marker = "*" if attempt["id"] == row["id"] else " "
            say(f"{marker} {attempt_text(attempt)}, queued {attempt['queued_at'] or '-'}")
    return 0


def cmd_logs(ctx: Context, args: argparse.Namespace) -> int:
    if args.follow:
        followed = _follow(ctx, args.id)
        return 1 if followed is None else _exit_status(followed)
    from poolimport.core.jobs.lifecycle import get_job
    from poolimport.core.jobs.queries import event_rows

    with ctx.reading() as (session, scope):
        get_job(session, scope, args.id)
        events = event_rows(session, scope, args.id)
    if args.json:
        emit_json(events)
    for event in [] if args.json else events:
        _print_event(event)
    return 0


def cmd_retry(ctx: Context, args: argparse.Namespace) -> int:
    if bool(args.id) == bool(args.all_failed):
        raise UsageError("give a job id, or --all-failed")
    actions = _actions(ctx)
    outcome = actions.retry_all_failed() if args.all_failed else actions.retry([args.id])
    created = outcome.created
    if args.json:
        emit_json({"job_ids": created, "refused": outcome.refused})
    else:
        for new_id in created:
            say(f"job #{new_id} queued")
        if args.all_failed and not created and not outcome.refused:
            say("no failed jobs to retry")
    for message in outcome.refused:
        print_error(message)
    return 1 if outcome.refused or (args.id and not created) else 0


def cmd_dismiss(ctx: Context, args: argparse.Namespace) -> int:
    outcome = _dismisser(ctx).dismiss(args.ids)
    if args.json:
        emit_json({"dismissed": outcome.dismissed, "refused": outcome.refused})
    else:
        for job_id in outcome.dismissed:
            say(f"job #{job_id} dismissed")
    for message in outcome.refused:
        print_error(message)
    return 1 if outcome.refused else 0


def _dismisser(ctx: Context) -> JobActions:
    """Dismissing queues nothing: no queue to open, so a queue that is away doesn't stop it."""
    from poolimport.core.jobs.actions import JobActions

    def no_queue(job_id: int) -> str:
        raise AssertionError("dismissing queues nothing")

    ctx.engine()
    return JobActions(ctx.settings, no_queue)


def cmd_cancel(ctx: Context, args: argparse.Namespace) -> int:
    say(f"job #{args.id} {_actions(ctx).cancel(args.id)}")
    return 0


def cmd_flush(ctx: Context, args: argparse.Namespace) -> int:
    if not args.stuck:
        raise UsageError("say what to flush: --stuck")
    from poolimport.core.jobs.lifecycle import flush_stuck

    with ctx.session() as (session, scope):
        flushed = flush_stuck(session, scope, ctx.settings.heartbeat_interval)
    say(
        f"{len(flushed)} stalled jobs marked failed"
        + (f": {', '.join(f'#{i}' for i in flushed)}" if flushed else "")
    )
    return 0


def cmd_worker(ctx: Context, args: argparse.Namespace) -> int:
    ctx.engine()  # fail early, with a clear message, if the schema is missing
    try:
        from poolimport.queue.app import QueueClient
        from poolimport.queue.worker import run_worker

        QueueClient.from_settings(ctx.settings).pending()
    except Exception as exc:  # a bad URL, a missing driver, a queue that doesn't answer
        where = masked_url(ctx.settings.queue_url)
        raise CliError(f"queue unreachable at {where}: {masked_url(str(exc))}") from None
    return run_worker(ctx.settings, workers=args.workers)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "import", help="import a router's pools (queued; --sync runs it here)", parents=[common]
    )
    p.add_argument("router", nargs="?", help="router name or id")
    p.add_argument("--all", action="store_true", help="queue one job per router")
    p.add_argument("--tenant", help="the router's tenant (with --all: only this tenant's routers)")
    p.add_argument("--sync", action="store_true", help="run the import in this process and print the result")
    p.add_argument(
        "--wait", action="store_true", help="follow the queued job to its end; exit with its status"
    )
    p.add_argument("--dry-run", action="store_true", help="compute and show the changes, write nothing")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("jobs", help="list jobs, newest first", parents=[common])
    p.add_argument(
        "--status",
        # Plain words: argparse lists the choices by their repr when one is refused.
        choices=[
            str(s) for s in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.STALLED, *FINISHED_JOB_STATUSES)
        ],
    )
    p.add_argument("--router", help="router name or id")
    p.add_argument(
        "--search", metavar="TEXT", help="only jobs with TEXT in the router's name, the status or the error"
    )
    p.add_argument("--limit", type=arguments.row_limit, default=50)
    p.set_defaults(func=cmd_jobs)

    job = sub.add_parser("job", help="one job").add_subparsers(dest="action", required=True)
    p = job.add_parser("show", help="everything about one job", parents=[common])
    p.add_argument("id", type=arguments.job_id)
    p.set_defaults(func=cmd_job_show)

    p = sub.add_parser("logs", help="a job's events", parents=[common])
    p.add_argument("id", type=arguments.job_id)
    p.add_argument(
        "--follow", "-f", action="store_true", help="follow until the job ends; exit with its status"
    )
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("failed", help="failed and stalled jobs, not those dismissed", parents=[common])
    p.add_argument("--limit", type=arguments.row_limit, default=50)
    p.set_defaults(func=cmd_failed)

    p = sub.add_parser(
        "retry", help="a new attempt of a failed, partial, stalled or cancelled job", parents=[common]
    )
    p.add_argument("id", type=arguments.job_id, nargs="?")
    p.add_argument(
        "--all-failed",
        action="store_true",
        help="retry each router whose newest job failed or stalled (and is not dismissed)",
    )
    p.set_defaults(func=cmd_retry)

    p = sub.add_parser(
        "dismiss",
        help="set failed jobs aside: out of `failed` and retry --all-failed, kept in `jobs`",
        parents=[common],
    )
    p.add_argument("ids", type=arguments.job_id, nargs="+", metavar="JOB")
    p.set_defaults(func=cmd_dismiss)

    p = sub.add_parser("cancel", help="cancel a queued or running job")
    p.add_argument("id", type=arguments.job_id)
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("flush", help="clean up: --stuck marks stalled jobs failed, freeing their routers")
    p.add_argument("--stuck", action="store_true")
    p.set_defaults(func=cmd_flush)

    p = sub.add_parser("worker", help="run a queue consumer (huey_consumer with tuned defaults)")
    p.add_argument("-w", "--workers", type=int, default=2)
    p.set_defaults(func=cmd_worker)
