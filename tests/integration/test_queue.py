"""Background imports through a real `poolimport worker` (huey consumer) subprocess."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from poolimport.core.config import Settings
from poolimport.core.events import EventKind
from poolimport.core.models import ImportJob, JobEvent
from poolimport.sim import SimServer
from tests.conftest import (
    EXPECTED_ADDRESSES,
    PASSWORD,
    SLOW_ROW_DELAY,
    Consumer,
    router_config,
    run_cli,
    unavailable,
)
from tests.helpers import (
    QUEUE_KEYS,
    assert_secrets_absent,
    enqueue,
    job_status,
    kinds,
    of_kind,
    show,
    wait_for,
    wait_status,
    words,
)
from tests.stored import stored_address_count

pytestmark = pytest.mark.xdist_group("consumers")
# The last event of every job that ran.
ENDINGS = (EventKind.JOB_SUCCEEDED, EventKind.JOB_PARTIAL, EventKind.JOB_FAILED, EventKind.JOB_CANCELLED)


def test_enqueue_runs_in_consumer_with_exact_counts_and_events(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], start_consumer: Callable[..., Consumer]
) -> None:
    add_router(sim, name="core")
    start_consumer()
    job_id = enqueue("core")
    assert wait_status(job_id, ("succeeded", "failed", "partial")) == "succeeded"

    shown = show(job_id)
    assert shown["result"]["pools"] == {"total": 3, "imported": 3, "failed": 0, "stale": 0}
    assert shown["result"]["addresses"] == {
        "added": EXPECTED_ADDRESSES,
        "updated": 0,
        "stale": 0,
        "total": EXPECTED_ADDRESSES,
    }
    assert (shown["pools_done"], shown["pools_total"]) == (3, 3)
    assert shown["addresses_done"] == shown["addresses_total"] == EXPECTED_ADDRESSES
    assert shown["started_at"] and shown["finished_at"] and shown["worker"]
    happened = kinds(engine, job_id)
    assert (happened[0], happened[1], happened[-1]) == (
        EventKind.JOB_QUEUED,
        EventKind.JOB_STARTED,
        EventKind.JOB_SUCCEEDED,
    )
    assert happened.count(EventKind.POOL_IMPORTED) == 3
    (start,) = of_kind(engine, job_id, EventKind.JOB_STARTED)
    assert {"router_id", "tenant_id", "user"} <= set(json.loads(start.data_json))
    assert stored_address_count(engine) == EXPECTED_ADDRESSES

    log_file = (engine.url.database or "").rsplit("/", 1)[0] + "/logs/poolimport.log"
    text = Path(log_file).read_text(encoding="utf-8")
    assert f"job={job_id} router=core {words(EventKind.JOB_SUCCEEDED)}" in text


def test_second_enqueue_is_refused_naming_the_live_job(
    engine: Engine, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    first = enqueue("core")  # no consumer: it stays queued
    second = run_cli("import", "core")
    assert second.returncode != 0
    assert second.stderr.strip() == f"error: router core already has job #{first} (queued)"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ImportJob)) == 1


def test_killed_consumer_leaves_a_stalled_job_that_retry_completes(
    engine: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    fast_heartbeat: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POOLIMPORT_STALLED_RETRIES", "0")  # the operator retries here, not the sweeper
    sim = sim_factory()
    add_router(sim, name="core", timeout=60)
    first = start_consumer()
    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"
    first.stop()

    sim.set_menu(
        "/ip/pool",
        [*router_config()["menus"]["/ip/pool"], {"name": "extra", "ranges": "172.16.0.1-172.16.0.50"}],
    )
    sim.faults.row_delay = SLOW_ROW_DELAY  # the kill lands in the middle of the read
    victim = start_consumer(workers=1)
    job_id = enqueue("core")
    wait_status(job_id, ("running",))
    victim.kill()
    assert wait_status(job_id, ("stalled",), timeout=15) == "stalled"
    assert json.loads(run_cli("failed", "--json").stdout)[0]["id"] == job_id

    sim.faults.row_delay = 0.0
    start_consumer()
    retried = run_cli("retry", str(job_id), "--json")
    assert retried.returncode == 0, retried.stderr
    new_id = json.loads(retried.stdout)["job_ids"][0]
    assert wait_status(new_id, ("succeeded", "failed", "partial")) == "succeeded"
    new = show(new_id)
    assert (new["attempt"], new["retry_of"]) == (2, job_id)
    assert new["result"]["addresses"]["added"] == 50
    assert stored_address_count(engine) == EXPECTED_ADDRESSES + 50
    old = show(job_id)
    assert old["status"] == "failed" and "stalled" in old["error"]


def test_router_that_stalls_mid_reply_fails_with_a_clear_timeout(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], start_consumer: Callable[..., Consumer]
) -> None:
    add_router(sim, name="core", timeout=1.0)
    sim.faults.stall_after_rows = 1
    start_consumer()
    job_id = enqueue("core")
    assert wait_status(job_id, ("succeeded", "failed", "partial")) == "failed"
    error = show(job_id)["error"]
    assert f"timed out after 1 s reading from 127.0.0.1:{sim.port} (/ip/pool)" in error
    assert stored_address_count(engine) == 0


def test_job_time_limit_stops_a_job_that_reads_too_long(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POOLIMPORT_JOB_TIME_LIMIT", "1")
    add_router(sim, name="core")
    sim.faults.row_delay = 0.4  # the read alone outlasts the limit
    start_consumer()
    job_id = enqueue("core")
    assert wait_status(job_id, ("succeeded", "failed", "partial")) == "failed"
    assert show(job_id)["error"] == "timed out after 1 s (job time limit)"
    assert stored_address_count(engine) == 0


def test_cancel_queued_job(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], start_consumer: Callable[..., Consumer]
) -> None:
    add_router(sim, name="core")
    job_id = enqueue("core")
    out = run_cli("cancel", str(job_id))
    assert out.returncode == 0 and f"job #{job_id} cancelled" in out.stdout
    start_consumer()
    # The revoked task never runs; a later job for the same router does.
    later = enqueue("core")
    assert wait_status(later, ("succeeded",)) == "succeeded"
    assert job_status(job_id) == "cancelled"
    assert EventKind.JOB_STARTED not in kinds(engine, job_id)


def test_cancel_running_job(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_router(sim, name="core", timeout=60)
    sim.faults.row_delay = SLOW_ROW_DELAY  # the cancel lands while the read runs
    start_consumer()
    job_id = enqueue("core")
    wait_status(job_id, ("running",))
    out = run_cli("cancel", str(job_id))
    assert out.returncode == 0 and "cancelling" in out.stdout
    assert wait_status(job_id, ("cancelled", "failed", "succeeded"), timeout=30) == "cancelled"
    assert stored_address_count(engine) == 0


def test_fifty_jobs_over_ten_routers_with_two_consumers_each_end_once(
    engine: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    for n in range(10):
        add_router(sim_factory(), name=f"r{n}")
    start_consumer(workers=2)
    start_consumer(workers=2)
    created: list[int] = []

    def fifty_queued() -> bool:
        # A router with a live job is refused: each round queues only for the routers that are free.
        created.extend(json.loads(run_cli("import", "--all", "--json").stdout)["job_ids"])
        return len(created) >= 50

    wait_for(fifty_queued, 120, "fifty jobs to be queued")

    def all_done() -> bool:
        with engine.connect() as conn:
            live = conn.scalar(
                select(func.count()).select_from(ImportJob).where(ImportJob.status.in_(("queued", "running")))
            )
        return live == 0

    wait_for(all_done, 120, "every job to end")
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(ImportJob.id, ImportJob.status)).all())
        starts = conn.execute(
            select(JobEvent.job_id, func.count())
            .where(JobEvent.kind == EventKind.JOB_STARTED)
            .group_by(JobEvent.job_id)
        ).all()
        endings = conn.execute(
            select(JobEvent.job_id, func.count()).where(JobEvent.kind.in_(ENDINGS)).group_by(JobEvent.job_id)
        ).all()
    assert set(statuses.values()) == {"succeeded"}
    assert all(count == 1 for _, count in starts) and len(starts) == len(statuses)
    assert all(count == 1 for _, count in endings) and len(endings) == len(statuses)
    assert stored_address_count(engine) == 10 * EXPECTED_ADDRESSES


def test_flush_stuck_frees_the_router(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    fast_heartbeat: None,
) -> None:
    add_router(sim, name="core", timeout=60)
    sim.faults.row_delay = SLOW_ROW_DELAY
    victim = start_consumer(workers=1)
    job_id = enqueue("core")
    wait_status(job_id, ("running",))
    victim.kill()
    wait_status(job_id, ("stalled",), timeout=15)
    refused = run_cli("import", "core")
    assert refused.returncode != 0 and f"job #{job_id} (stalled)" in refused.stderr
    out = run_cli("flush", "--stuck")
    assert out.returncode == 0 and f"#{job_id}" in out.stdout
    assert job_status(job_id) == "failed"
    assert run_cli("import", "core").returncode == 0


def test_passwords_never_reach_jobs_events_queue_or_logs(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    tmp_path: Path,
) -> None:
    wrong = "Wr0ng-Secret-Value"
    add_router(sim, name="core")
    add_router(sim, name="wrong", password=wrong)
    consumer = start_consumer()
    ok, bad = enqueue("core"), enqueue("wrong")
    wait_status(ok, ("succeeded",))
    assert wait_status(bad, ("failed",)) == "failed"
    consumer.stop()  # its last lines are written out before the scan
    # The database, the queue, the job log and what the consumer printed: all of it is under tmp_path.
    scanned = set(assert_secrets_absent(tmp_path, [PASSWORD, wrong], [settings.key_file]))
    assert {consumer.log, settings.home / "poolimport.db", settings.log_dir / "poolimport.log"} <= scanned
    assert consumer.output().count("Executing poolimport.queue.tasks") == 2  # it ran both: its output is in


REDIS_URL = os.environ.get("POOLIMPORT_TEST_QUEUE_URL", "redis://127.0.0.1:6379/14")


def test_redis_queue_runs_the_same_job(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).delete(*QUEUE_KEYS)
    except redis.exceptions.ConnectionError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    monkeypatch.setenv("POOLIMPORT_QUEUE_URL", REDIS_URL)
    add_router(sim, name="core")
    start_consumer()
    job_id = enqueue("core")
    assert wait_status(job_id, ("succeeded", "failed", "partial")) == "succeeded"
    assert stored_address_count(engine) == EXPECTED_ADDRESSES


def test_unreachable_queue_fails_the_import_and_leaves_no_job(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POOLIMPORT_QUEUE_URL", "redis://127.0.0.1:1/0")
    add_router(sim, name="core")
    out = run_cli("import", "core")
    assert out.returncode == 1
    assert out.stderr.startswith("error: router core not imported, no job created: queue unreachable:")
    assert "Traceback" not in out.stderr
    # No job is left behind, stuck queued or failed: the router is free for the next attempt.
    monkeypatch.delenv("POOLIMPORT_QUEUE_URL")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ImportJob)) == 0
    assert run_cli("import", "core").returncode == 0


def test_worker_refuses_to_start_on_an_unreachable_queue(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POOLIMPORT_QUEUE_URL", "redis://127.0.0.1:1/0")
    out = run_cli("worker", "-w", "1", timeout=30)
    assert out.returncode == 1
    assert out.stderr.startswith("error: queue unreachable at redis://127.0.0.1:1/0:")
    assert "Traceback" not in out.stderr
