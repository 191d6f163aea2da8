"""Which consumers are alive: each checks in every heartbeat interval and checks out when it stops.

A consumer silent for three intervals reads as gone, like a job's heartbeat. Consumers serve every
tenant, so any operator sees them; the jobs shown running on them are the asker's only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from poolimport.core.access.tenancy import Scope
from poolimport.core.jobs.lifecycle import stall_cutoff
from poolimport.core.models import Consumer, ImportJob, utcnow
from poolimport.core.statuses import JobStatus

# A consumer gone (killed, its host lost) for longer than this is forgotten by the next check-in.
FORGET_AFTER = timedelta(days=1)


def check_in(engine: Engine, name: str, host: str, pid: int, threads: int, started_at: datetime) -> None:
    """One transaction a heartbeat: this consumer is seen, long-gone ones are forgotten."""
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(delete(Consumer).where(Consumer.seen_at < now - FORGET_AFTER))
        seen = conn.execute(
            update(Consumer).where(Consumer.name == name).values(seen_at=now, threads=threads)
        )
        if seen.rowcount == 0:  # the name is this process's: no one else inserts it
            conn.execute(
                insert(Consumer).values(
                    name=name, host=host, pid=pid, threads=threads, started_at=started_at, seen_at=now
                )
            )


def check_out(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(Consumer).where(Consumer.name == name))


@dataclass(frozen=True)
class ConsumerRow:
    name: str
    host: str
    pid: int
    threads: int
    started_at: datetime
    seen_at: datetime
    alive: bool
    running: list[int]  # the asker's jobs it is running

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "threads": self.threads,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "seen_at": self.seen_at.isoformat(timespec="seconds"),
            "alive": self.alive,
            "running": self.running,
        }


def consumer_rows(session: Session, scope: Scope, heartbeat_interval: float) -> list[ConsumerRow]:
    """Every consumer that checked in (the gone ones too, until they are swept), alive first."""
    cutoff = stall_cutoff(utcnow(), heartbeat_interval)
    running: dict[str, list[int]] = {}
    jobs = scope.jobs().where(ImportJob.status == JobStatus.RUNNING).order_by(ImportJob.id)
    for job in session.scalars(jobs):
        running.setdefault(job.worker or "", []).append(job.id)
    rows = [
        ConsumerRow(
            c.name,
            c.host,
            c.pid,
            c.threads,
            c.started_at,
            c.seen_at,
            c.seen_at >= cutoff,
            running.get(c.name, []),
        )
        for c in session.scalars(select(Consumer).order_by(Consumer.host, Consumer.pid))
    ]
    return sorted(rows, key=lambda row: not row.alive)


def alive_count(session: Session, heartbeat_interval: float) -> int:
    alive = Consumer.seen_at >= stall_cutoff(utcnow(), heartbeat_interval)
    return session.scalar(select(func.count()).select_from(Consumer).where(alive)) or 0
