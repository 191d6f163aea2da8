"""Scheduled sync through real consumers: `schedule set` from the CLI, two consumers, one enqueuer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select

from poolimport.core.events import EventKind
from poolimport.core.models import ImportJob, Schedule
from poolimport.core.statuses import JobStatus
from poolimport.sim import SimServer
from tests.conftest import Consumer, run_cli
from tests.helpers import kinds, wait_for

pytestmark = pytest.mark.xdist_group("consumers")


def scheduled_jobs(engine: Engine, router_id: int) -> list[Any]:
    with engine.connect() as conn:
        stmt = select(ImportJob).where(ImportJob.router_id == router_id, ImportJob.source == "schedule")
        return list(conn.execute(stmt.order_by(ImportJob.id)))


def schedule_list() -> dict[str, dict[str, Any]]:
    out = run_cli("schedule", "list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["router"]: row for row in json.loads(out.stdout)}


def test_two_consumers_enqueue_each_due_router_once_and_a_failing_one_backs_off(
    engine: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    good = add_router(sim_factory(), name="good")
    locked_sim = sim_factory()
    locked_sim.faults.refuse_logins = True
    locked = add_router(locked_sim, name="locked")
    out = run_cli("schedule", "set", "--tenant", "acme", "10s")
    assert out.returncode == 0 and "2 router(s) re-synced every 10s" in out.stdout, out.stderr
    start_consumer(workers=2)
    start_consumer(workers=2)

    wait_for(
        lambda: sum(job.status == JobStatus.SUCCEEDED for job in scheduled_jobs(engine, good)) >= 2,
        60,
        "two scheduled imports of the good router",
    )
    done = [job for job in scheduled_jobs(engine, good) if job.finished_at]
    # One enqueuer: each run of the schedule is one job, at least an interval after the last (two
    # enqueuers would queue the same run twice, moments apart).
    gaps = [(b.queued_at - a.queued_at).total_seconds() for a, b in zip(done, done[1:], strict=False)]
    assert gaps and all(gap >= 9.9 for gap in gaps), gaps
    assert {job.requested_by for job in done} == {"scheduler"}

    wait_for(lambda: schedule_list()["locked"]["failures"] >= 1, 60, "the locked router to fail once")
    failed = scheduled_jobs(engine, locked)[0]
    with engine.connect() as conn:
        next_run = conn.scalar(select(Schedule.next_run_at).where(Schedule.router_id == locked))
    # 20 s after the failure (twice the interval), not the interval the schedule would otherwise keep.
    assert (next_run - failed.finished_at).total_seconds() >= 19
    assert schedule_list()["locked"]["backing_off"]
    assert EventKind.SCHEDULE_BACKING_OFF in kinds(engine, failed.id)
    assert schedule_list()["good"]["overdue"] is False

    out = run_cli("schedule", "list")
    assert "backing off: 1 failed in a row" in out.stdout or "backing off: 2 failed in a row" in out.stdout


def test_workers_and_stats_show_live_consumers_and_a_queue_nobody_runs(
    engine: Engine, add_router: Callable[..., int], start_consumer: Callable[..., Consumer]
) -> None:
    add_router(None, name="r1", port=1)
    assert run_cli("import", "r1").returncode == 0
    stats = run_cli("stats", "--json")
    assert json.loads(stats.stdout)["stuck"] is True
    assert "no consumer is alive" in run_cli("stats").stderr
    consumer = start_consumer(workers=3)
    wait_for(lambda: json.loads(run_cli("workers", "--json").stdout), 60, "the consumer to check in")
    (row,) = json.loads(run_cli("workers", "--json").stdout)
    assert (row["pid"], row["threads"], row["alive"]) == (consumer.process.pid, 3, True)
    wait_for(lambda: json.loads(run_cli("stats", "--json").stdout)["queued"] == 0, 60, "the job to be taken")
    assert json.loads(run_cli("stats", "--json").stdout)["stuck"] is False
    consumer.stop()
    assert json.loads(run_cli("workers", "--json").stdout) == []  # checked out on its way down
