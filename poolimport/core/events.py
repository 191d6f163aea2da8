"""What a job's log says. Each event has a kind, and each kind its level and its words, here and only here.

The kind is stored with the event, so code and tests ask what happened by kind; the words are for
operators and may change. The words of the original tool's log lines are kept as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    JOB_QUEUED = "job.queued"
    JOB_QUEUED_AS_AUTO_RETRY = "job.queued_as_auto_retry"
    JOB_STARTED = "job.started"
    JOB_SUCCEEDED = "job.succeeded"
    JOB_PARTIAL = "job.partial"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_CANCELLED_BEFORE_START = "job.cancelled_before_start"
    JOB_CANCEL_REQUESTED = "job.cancel_requested"
    JOB_STALLED = "job.stalled"
    JOB_AUTO_RETRIED = "job.auto_retried"
    JOB_DISMISSED = "job.dismissed"
    JOB_STOPPED = "job.stopped"
    ROUTER_CONNECTING = "router.connecting"
    ROUTER_READ = "router.read"
    ROUTER_READ_STOPPED = "router.read_stopped"
    ROUTER_READ_FAILED = "router.read_failed"
    ROUTER_WARNING = "router.warning"
    POOL_IMPORTED = "pool.imported"
    POOL_WARNING = "pool.warning"
    POOL_TOO_LARGE = "pool.too_large"
    POOL_FAILED = "pool.failed"
    POOLS_GONE = "pools.gone"
    SCHEDULE_BACKING_OFF = "schedule.backing_off"


# kind -> (level, words); `{name}` fields come from `event(kind, name=...)`. `{title}` is the import
# kind's ("IP pools"): the words of the original tool's lines for an import of pools.
WORDING: dict[EventKind, tuple[str, str]] = {
    EventKind.JOB_QUEUED: ("info", "Job queued by {operator}{note}"),
    EventKind.JOB_QUEUED_AS_AUTO_RETRY: (
        "info",
        "Queued as the automatic retry of job #{job_id}, which stalled ({since}; {count})",
    ),
    EventKind.JOB_STARTED: ("info", "Starting {title} import job"),
    EventKind.JOB_SUCCEEDED: ("info", "{title} import completed successfully"),
    EventKind.JOB_PARTIAL: ("warning", "{title} import completed with errors"),
    EventKind.JOB_FAILED: ("error", "{title} import job failed"),
    EventKind.JOB_CANCELLED: ("warning", "{title} import job cancelled"),
    EventKind.JOB_CANCELLED_BEFORE_START: ("warning", "Job cancelled by {operator} before it started"),
    EventKind.JOB_CANCEL_REQUESTED: ("warning", "Cancel requested by {operator}"),
    EventKind.JOB_STALLED: ("warning", "stalled ({note})"),
    EventKind.JOB_AUTO_RETRIED: (
        "warning",
        "Retried automatically as job #{retry_id} ({count}): the job stalled, {since}",
    ),
    EventKind.JOB_DISMISSED: ("info", "Dismissed by {operator}: no longer among the failed jobs"),
    EventKind.JOB_STOPPED: ("error", "Import stopped: {reason}"),
    EventKind.ROUTER_CONNECTING: ("info", "Connecting to {address}"),
    EventKind.ROUTER_READ: ("info", "Read {pools} pools ({addresses} addresses)"),
    EventKind.ROUTER_READ_STOPPED: ("error", "Import stopped while reading the router: {reason}"),
    EventKind.ROUTER_READ_FAILED: ("error", "Reading {title} failed"),
    EventKind.ROUTER_WARNING: ("warning", "{warning}"),
    EventKind.POOL_IMPORTED: ("info", "Pool {pool}: {addresses} addresses, {outcome}"),
    EventKind.POOL_WARNING: ("warning", "{warning}"),
    EventKind.POOL_TOO_LARGE: (
        "warning",
        "pool {pool}: {total} addresses is more than max_addresses_per_pool ({limit});"
        " stored with its ranges, addresses not expanded",
    ),
    EventKind.POOL_FAILED: ("error", "Pool {pool}: failed: {error}"),
    EventKind.POOLS_GONE: ("warning", "{pools} pools gone from the router marked stale"),
    EventKind.SCHEDULE_BACKING_OFF: (
        "warning",
        "Scheduled sync failed, {failures} in a row: the next one waits {wait}",
    ),
}


@dataclass(frozen=True)
class Event:
    kind: EventKind
    level: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def event(kind: EventKind, data: dict[str, Any] | None = None, **words: object) -> Event:
    """The event of `kind`, its words filled from `words`; `data` is stored beside it for code to read."""
    level, template = WORDING[kind]
    return Event(kind, level, template.format(**words), data or {})
