"""Queue metrics and the consumers' check-in, against a real database, within the asker's tenants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from poolimport.core.access.tenancy import Scope
from poolimport.core.consumers import check_in, check_out, consumer_rows
from poolimport.core.db import session_scope
from poolimport.core.jobs.queries import list_jobs
from poolimport.core.metrics import percentile, queue_stats
from poolimport.core.models import ImportJob, Router, Tenant, utcnow
from tests.conftest import ADMIN

INTERVAL = 5.0


@pytest.fixture
def routers(add_router: Callable[..., int]) -> dict[str, int]:
    return {
        "n1": add_router(name="n1", tenant="north", port=1),
        "n2": add_router(name="n2", tenant="north", port=1),
        "s1": add_router(name="s1", tenant="south", port=1),
    }


def add_job(
    engine: Engine, router_id: int, status: str, ago: float, wait: float | None = None, **values: Any
) -> None:
    """A job that finished (or started) `ago` seconds ago, having waited `wait` seconds in the queue."""
    now = utcnow()
    with engine.begin() as conn:
        tenant_id = conn.scalar(select(Router.tenant_id).where(Router.id == router_id))
        queued = now - timedelta(seconds=ago + (wait or 0))
        started = now - timedelta(seconds=ago) if wait is not None else None
        finished = started if status in ("succeeded", "failed", "partial", "cancelled") else None
        conn.execute(
            insert(ImportJob).values(
                router_id=router_id,
                tenant_id=tenant_id,
                requested_by="t",
                status=status,
                queued_at=queued,
                started_at=started,
                finished_at=finished,
                **values,
            )
        )


def north(engine: Engine) -> Scope:
    with session_scope(engine) as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == "north"))
    return Scope(operator="nora", tenant_ids=frozenset({tenant_id}), role="operator")


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([float(n) for n in range(1, 101)], 0.5) == 50.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


def test_stats_count_depth_waits_throughput_and_failing_routers(
    engine: Engine, routers: dict[str, int]
) -> None:
    add_job(engine, routers["n1"], "queued", ago=30)
    add_job(engine, routers["n2"], "running", ago=5, wait=2)
    for wait in (1, 2, 3, 4, 100):
        add_job(engine, routers["n2"], "succeeded", ago=600, wait=wait)
    add_job(engine, routers["n1"], "failed", ago=120, wait=1)
    add_job(engine, routers["n1"], "failed", ago=7200, wait=1)  # in the day, not the hour
    add_job(engine, routers["s1"], "succeeded", ago=7200 * 24, wait=1)  # older than a day
    with session_scope(engine) as session:
        stats = queue_stats(session, ADMIN, INTERVAL)
    assert (stats.queued, stats.running, stats.consumers_alive) == (1, 1, 0)
    assert stats.stuck  # jobs wait, nobody runs them
    assert stats.oldest_queued_seconds is not None and 29 <= stats.oldest_queued_seconds <= 60
    assert (stats.wait_p50, stats.wait_p95) == (2.0, 100.0)  # waits 1,1,2,2,3,4,100 in the hour
    assert (stats.finished_hour, stats.failed_hour) == (6, 1)
    assert stats.jobs_per_minute == 0.1
    assert [
        (r.router, r.failed_hour, r.jobs_hour, r.failed_day, r.jobs_day) for r in stats.failing_routers
    ] == [("n1", 1, 1, 2, 2)]


def test_a_running_job_gone_quiet_counts_as_stalled_as_the_job_lists_read_it(
    engine: Engine, routers: dict[str, int]
) -> None:
    quiet = utcnow() - timedelta(seconds=4 * INTERVAL)  # more than three intervals without a beat
    add_job(engine, routers["n1"], "running", ago=10 * INTERVAL, wait=0, heartbeat_at=quiet)
    add_job(engine, routers["n2"], "running", ago=1, wait=0, heartbeat_at=utcnow())
    add_job(engine, routers["s1"], "queued", ago=1)
    with session_scope(engine) as session:
        stats = queue_stats(session, ADMIN, INTERVAL)
        listed = {
            status: len(list_jobs(session, ADMIN, INTERVAL, status=status))
            for status in ("queued", "running", "stalled")
        }
    assert (stats.queued, stats.running, stats.stalled) == (1, 1, 1)
    assert listed == {"queued": 1, "running": 1, "stalled": 1}
    assert stats.as_dict()["stalled"] == 1


def test_stats_are_the_askers_tenants_only(engine: Engine, routers: dict[str, int]) -> None:
    add_job(engine, routers["n1"], "queued", ago=1)
    add_job(engine, routers["s1"], "queued", ago=1)
    add_job(engine, routers["s1"], "failed", ago=10, wait=1)
    with session_scope(engine) as session:
        stats = queue_stats(session, north(engine), INTERVAL)
    assert stats.queued == 1 and stats.failing_routers == []


def test_consumers_check_in_read_alive_then_gone_and_check_out(
    engine: Engine, routers: dict[str, int]
) -> None:
    started = utcnow()
    check_in(engine, "host-a:1", "host-a", 1, 4, started)
    check_in(engine, "host-a:1", "host-a", 1, 4, started)  # again: one row
    check_in(engine, "host-b:2", "host-b", 2, 2, started)
    add_job(engine, routers["n1"], "running", ago=1, wait=0, worker="host-a:1")
    add_job(engine, routers["s1"], "running", ago=1, wait=0, worker="host-a:1")
    with session_scope(engine) as session:
        rows = {row.name: row for row in consumer_rows(session, north(engine), INTERVAL)}
        assert set(rows) == {"host-a:1", "host-b:2"} and all(row.alive for row in rows.values())
        assert len(rows["host-a:1"].running) == 1  # north's job only: south's is not the asker's
        assert rows["host-a:1"].threads == 4
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE consumers SET seen_at = ? WHERE name = 'host-b:2'", (utcnow() - timedelta(seconds=60),)
        )
    check_out(engine, "host-a:1")
    with session_scope(engine) as session:
        rows = {row.name: row for row in consumer_rows(session, ADMIN, INTERVAL)}
    assert list(rows) == ["host-b:2"] and not rows["host-b:2"].alive


def test_failing_routers_say_their_tenant_and_newest_error_and_same_names_stay_apart(
    any_engine: Engine, any_add_router: Callable[..., int]
) -> None:
    """On both databases: the newest error is a subquery of the grouped query."""
    engine = any_engine
    n1 = any_add_router(name="n1", tenant="north", port=1)
    twin = any_add_router(name="n1", tenant="south", port=1)  # another tenant's router of the same name
    add_job(engine, n1, "failed", ago=300, wait=1, error="older: timed out")
    add_job(engine, n1, "failed", ago=60, wait=1, error="newer: login failed")
    add_job(engine, n1, "succeeded", ago=30, wait=1)
    add_job(engine, twin, "failed", ago=90, wait=1, error="south's own")
    with session_scope(engine) as session:
        stats = queue_stats(session, ADMIN, INTERVAL)
    assert [(r.router, r.tenant, r.failed_hour, r.newest_error) for r in stats.failing_routers] == [
        ("n1", "north", 2, "newer: login failed"),
        ("n1", "south", 1, "south's own"),
    ]
    assert stats.failure_rate == 0.75  # 3 of the 4 finished in the hour
    assert stats.as_dict()["failure_rate"] == 0.75
    assert stats.as_dict()["failing_routers"][0]["newest_error"] == "newer: login failed"


def test_no_job_finished_is_no_failure_rate(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert queue_stats(session, ADMIN, INTERVAL).failure_rate is None
