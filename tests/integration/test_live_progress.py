"""Progress an operator sees while one large pool is written by a real consumer, on SQLite (where the
pool's transaction holds the only write lock throughout) and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, update

from poolimport.core.access.tenancy import find_router
from poolimport.core.db import session_scope
from poolimport.core.jobs import lifecycle as jobs
from poolimport.core.models import Router
from poolimport.sim import SimServer
from tests.conftest import ADMIN, Consumer, menus, run_cli
from tests.helpers import enqueue, show, wait_for

pytestmark = pytest.mark.xdist_group("consumers")

# The largest pool expanded by default: seconds of writing, many progress intervals.
BIG = "10.0.0.0/12"
BIG_TOTAL = 1_048_576


def test_progress_moves_while_one_large_pool_is_written(
    any_engine: Engine,
    sim_factory: Callable[..., SimServer],
    any_add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POOLIMPORT_BATCH_SIZE", "5000")  # the consumer reports every 5,000 addresses
    sim = sim_factory(menus(ip=[{"name": "cgnat", "ranges": BIG}]))
    any_add_router(sim, name="core", timeout=60)
    start_consumer()
    job_id = enqueue("core")
    while_running: list[int] = []

    def finished() -> bool:
        shown = show(job_id)
        if shown["status"] == "running":
            assert shown["addresses_total"] in (0, BIG_TOTAL)  # 0 until the router is read
            while_running.append(shown["addresses_done"])
        return shown["status"] not in ("queued", "running")

    wait_for(finished, 180, f"job #{job_id} to end")
    shown = show(job_id)
    assert shown["status"] == "succeeded", shown
    assert shown["addresses_done"] == shown["addresses_total"] == BIG_TOTAL
    # The pool is the router's only one: progress between pools would show 0, then the whole pool.
    assert any(0 < done < BIG_TOTAL for done in while_running), while_running
    assert while_running == sorted(while_running)  # never backwards


def test_the_cli_reads_jobs_while_a_pool_write_holds_the_write_lock(
    engine: Engine, add_router: Callable[..., int]
) -> None:
    """A sign-in and a schema check are reads: they don't wait for SQLite's write lock (for as long as a
    pool takes to write, or until the busy timeout fails them)."""
    router_id = add_router(name="core", port=1)
    with session_scope(engine) as session:
        router = find_router(session, ADMIN, "core")
        job_id = jobs.create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=10).id
    with engine.begin() as conn:  # BEGIN IMMEDIATE and a write: what a pool's transaction holds
        conn.execute(update(Router).where(Router.id == router_id).values(timeout=9))
        shown = run_cli("job", "show", str(job_id), "--json")
        listed = run_cli("jobs", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "queued"
    assert listed.returncode == 0, listed.stderr
    assert [row["id"] for row in json.loads(listed.stdout)] == [job_id]
