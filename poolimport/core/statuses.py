"""The words for the state of a job, a pool, an address and a router check.

Each is stored as it is and shown as it is, by the CLI and the TUI alike (the TUI adds only style).
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # some pools failed, the others were imported
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Never stored: a running job whose worker stopped beating, as lists and retries see it.
    STALLED = "stalled"


LIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
# As lists show them: a stalled job is still running in the database, and may yet move or end.
UNFINISHED_JOB_STATUSES = (*LIVE_JOB_STATUSES, JobStatus.STALLED)
FINISHED_JOB_STATUSES = (JobStatus.SUCCEEDED, JobStatus.PARTIAL, JobStatus.FAILED, JobStatus.CANCELLED)
RETRYABLE_JOB_STATUSES = (JobStatus.FAILED, JobStatus.PARTIAL, JobStatus.STALLED, JobStatus.CANCELLED)


class PoolStatus(StrEnum):
    ACTIVE = "active"
    STALE = "stale"  # gone from the router; kept, with its addresses, for the history


class AddressStatus(StrEnum):
    FREE = "free"
    USED = "used"
    STALE = "stale"  # no longer in its pool's ranges


class CheckStatus(StrEnum):
    """A router's last connection: an import or `router test`."""

    OK = "ok"
    ERROR = "error"


class PoolOutcome(StrEnum):
    """What one import did to one pool."""

    ADDED = "added"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
