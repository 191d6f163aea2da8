"""One live job per router, whatever the way in: queued, `--sync` and `--dry-run` take the same claim."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.jobs.lifecycle import JobRefused, create_job
from poolimport.core.models import ImportJob, PoolAddress, Router
from poolimport.sim import SimServer
from tests.conftest import ADMIN, router_config, run_cli
from tests.helpers import start_cli, wait_for


def slow_router() -> dict[str, Any]:
    """A router that would take a minute to answer: the test lets it finish (faults.row_delay = 0) once the
    other imports have been seen refused, so however slowly they start, they meet a live job."""
    config = router_config()
    config["menus"]["/ip/pool/used"] = [
        {"pool": "pppoe", "address": f"100.64.0.{n}", "owner": f"user{n}", "info": ""} for n in range(2, 102)
    ]
    config["faults"] = {"row_delay": 0.6}
    return config


def job_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        stmt = select(ImportJob.id, ImportJob.status, ImportJob.source).order_by(ImportJob.id)
        return [tuple(row) for row in conn.execute(stmt)]


def running_job(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(select(ImportJob.id).where(ImportJob.status == "running"))


def test_three_syncs_at_once_run_one_and_refuse_two_naming_it(
    any_engine: Engine,
    any_settings: Settings,
    sim_factory: Callable[..., SimServer],
    any_add_router: Callable[..., int],
) -> None:
    sim = sim_factory(slow_router())
    any_add_router(sim)
    runs = [start_cli("import", "r1", "--sync") for _ in range(3)]
    wait_for(lambda: sum(run.poll() is not None for run in runs) == 2, timeout=50, what="two refusals")
    sim.faults.row_delay = 0
    outputs = [run.communicate(timeout=60) for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes == [0, 1, 1], outputs
    [(holder, status, source)] = job_rows(any_engine)
    assert (status, source) == ("succeeded", "sync")
    refusals = [err for run, (_out, err) in zip(runs, outputs, strict=True) if run.returncode]
    for err in refusals:
        # The holder may be caught in the moment between its row and its claim: queued, then running.
        expected = f"error: router r1 already has job #{holder} \\((queued|running)\\)"
        assert re.fullmatch(expected, err.strip()), err
    with any_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PoolAddress)) == 170


@pytest.mark.parametrize("extra", [(), ("--dry-run",)])
def test_sync_and_dry_run_are_refused_while_a_queued_job_holds_the_router(
    engine: Engine,
    settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    extra: tuple[str, ...],
) -> None:
    router_id = add_router(sim_factory(router_config()))
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        queued = create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=10).id
    refused = run_cli("import", "r1", "--sync", *extra)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"error: router r1 already has job #{queued} (queued)"
    assert job_rows(engine) == [(queued, "queued", "queue")]


def test_a_running_sync_holds_the_router_and_shows_in_jobs(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    sim = sim_factory(slow_router())
    router_id = add_router(sim)
    sync = start_cli("import", "r1", "--sync", "--dry-run")
    job_id = wait_for(lambda: running_job(engine), timeout=30, what="the sync job to run")
    with session_scope(engine) as session, pytest.raises(JobRefused, match=f"job #{job_id} \\(running\\)"):
        create_job(session, ADMIN, session.get(Router, router_id), time_limit=60, heartbeat_interval=10)
    listed = run_cli("jobs", "--json")
    [row] = json.loads(listed.stdout)
    assert (row["id"], row["status"], row["source"], row["dry_run"]) == (job_id, "running", "sync", True)
    assert row["worker"]
    sim.faults.row_delay = 0
    out, err = sync.communicate(timeout=60)
    assert sync.returncode == 0, err
    assert "(dry run)" in out
    assert job_rows(engine) == [(job_id, "succeeded", "sync")]
    table = run_cli("jobs")
    assert "sync" in table.stdout
