"""Each job says how it was asked for: the CLI, the TUI (tests/tui), over SSH with which key (tests/ssh),
the schedule or an auto-retry."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Engine, select, update

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.jobs import schedule
from poolimport.core.jobs.lifecycle import auto_retry_stalled
from poolimport.core.models import ImportJob, Schedule, utcnow
from tests.conftest import run_cli


def test_a_job_queued_from_the_cli_says_so_and_job_show_prints_it(add_router: Callable[..., int]) -> None:
    add_router(None, name="r1", port=1)
    queued = json.loads(run_cli("import", "r1", "--json").stdout)
    (job_id,) = queued["job_ids"]
    shown = json.loads(run_cli("job", "show", str(job_id), "--json").stdout)
    assert shown["asked_via"] == "CLI"
    assert "asked_via" in run_cli("job", "show", str(job_id)).stdout


def test_a_scheduled_job_and_its_auto_retry_say_where_they_came_from(
    engine: Engine, settings: Settings, add_router: Callable[..., int]
) -> None:
    router_id = add_router(None, name="r1", port=1)
    assert run_cli("schedule", "set", "r1", "1m").returncode == 0
    with engine.begin() as conn:
        conn.execute(update(Schedule).values(next_run_at=utcnow()))
    (job_id,) = schedule.enqueue_due(engine, settings, lambda job: f"task-{job}")
    with engine.begin() as conn:  # taken, then its consumer died: stalled
        conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(status="running", started_at=utcnow(), heartbeat_at=utcnow().replace(year=2000))
        )
    assert auto_retry_stalled(settings, lambda job: f"task-{job}")
    with session_scope(engine) as session:
        rows = session.execute(
            select(ImportJob.id, ImportJob.asked_via).where(ImportJob.router_id == router_id)
        ).all()
    assert [via for _, via in sorted(rows)] == ["schedule", "auto-retry of a stalled job"]
