"""A consumer killed mid-import: another consumer retries its stalled job automatically, exactly once."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from poolimport.core.config import ConfigError, Settings, load_settings
from poolimport.core.db import get_read_engine, session_scope
from poolimport.core.events import EventKind
from poolimport.core.jobs.lifecycle import auto_retry_stalled, claim, create_job
from poolimport.core.jobs.progress import progress_folder, read_progress
from poolimport.core.models import ImportJob, IpPool, JobSource, PoolAddress, Router, utcnow
from poolimport.sim import SimServer
from tests.conftest import ADMIN, SLOW_ROW_DELAY, Consumer, router_config, run_cli
from tests.helpers import enqueue, events, of_kind, show, wait_for, wait_status
from tests.stored import stored_address_count

pytestmark = pytest.mark.xdist_group("consumers")

POOLS = 40
ADDRESSES_PER_POOL = 8190  # 10.N.0.1-10.N.31.254


def many_pools_config() -> dict[str, Any]:
    """Enough pools that writing them takes a while: a kill lands between two pool transactions."""
    return router_config(
        menus={
            "/ip/pool": [{"name": f"p{n:02}", "ranges": f"10.{n}.0.1-10.{n}.31.254"} for n in range(POOLS)],
            "/ip/pool/used": [
                {"pool": f"p{n:02}", "address": f"10.{n}.0.1", "owner": f"user{n}", "info": "pppoe"}
                for n in range(POOLS)
            ],
            "/ipv6/pool": [],
            "/ipv6/pool/used": [],
        }
    )


def job_row(engine: Engine, job_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(ImportJob).where(ImportJob.id == job_id)).one()


def retries_of(engine: Engine, job_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(ImportJob.id).where(ImportJob.retry_of_id == job_id)))


def test_killed_consumers_job_is_retried_once_by_the_next_consumers_and_ends_exact(
    engine: Engine,
    settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    fast_heartbeat: None,
) -> None:
    add_router(sim_factory(many_pools_config()), name="core")
    victim = start_consumer()
    job_id = enqueue("core")
    # Polled during the import with the reader: on SQLite it never takes the write lock the import needs.
    reader = get_read_engine(settings)
    wait_for(lambda: job_row(reader, job_id).pools_done >= 1, 60, "the first pool to be written")
    victim.kill()
    killed = job_row(engine, job_id)
    assert killed.status == "running" and killed.pools_done < POOLS, "the import ended before the kill"
    written_before = stored_address_count(engine)
    assert 0 < written_before < POOLS * ADDRESSES_PER_POOL
    folder = progress_folder(settings.database_url)
    assert folder is not None and read_progress(folder, job_id) is not None  # left behind by the kill

    # Two consumers sweep for stalled jobs at the same time: only one of them may retry it.
    rescuers = [start_consumer(), start_consumer()]
    new_id = wait_for(lambda: retries_of(engine, job_id), 30, f"an automatic retry of job #{job_id}")[0]
    assert wait_status(new_id, ("succeeded", "failed", "partial"), timeout=90) == "succeeded"
    # The sweep that retried the job removes what its killed consumer left; the retry removed its own.
    wait_for(lambda: not os.listdir(folder), 30, "the progress files to be removed")

    assert retries_of(engine, job_id) == [new_id]
    old, new = show(job_id), show(new_id)
    assert old["status"] == "failed"
    assert "stalled" in old["error"] and "retried automatically" in old["error"]
    assert (new["attempt"], new["retry_of"], new["requested_by"]) == (2, job_id, "auto-retry")
    retried = of_kind(engine, job_id, EventKind.JOB_AUTO_RETRIED)
    assert [json.loads(e.data_json) for e in retried] == [{"retry_id": new_id}]
    queued = of_kind(engine, new_id, EventKind.JOB_QUEUED_AS_AUTO_RETRY)
    assert [json.loads(e.data_json) for e in queued] == [{"retry_of": job_id}]

    total = POOLS * ADDRESSES_PER_POOL
    assert new["result"]["addresses"]["total"] == total
    assert new["result"]["addresses"]["added"] == total - written_before
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                PoolAddress.pool_id, func.count(), func.count(func.distinct(PoolAddress.address))
            ).group_by(PoolAddress.pool_id)
        ).all()
        used = conn.scalar(select(func.count()).select_from(PoolAddress).where(PoolAddress.status == "used"))
        pools = conn.scalar(select(func.count()).select_from(IpPool))
    assert pools == POOLS and len(rows) == POOLS
    assert all(count == distinct == ADDRESSES_PER_POOL for _pool, count, distinct in rows)
    assert used == POOLS

    said = "".join(consumer.output() for consumer in rescuers)
    assert said.count(f"job #{job_id} stalled") == 1 and f"retried automatically as job #{new_id}" in said
    assert "Traceback" not in said


def test_no_automatic_retry_when_stalled_retries_is_zero(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    fast_heartbeat: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POOLIMPORT_STALLED_RETRIES", "0")
    add_router(sim, name="core", timeout=60)
    sim.faults.row_delay = SLOW_ROW_DELAY  # the kill lands in the middle of the read
    victim = start_consumer()
    job_id = enqueue("core")
    wait_status(job_id, ("running",))
    victim.kill()
    start_consumer()

    assert wait_status(job_id, ("failed",), timeout=30) == "failed"
    error = show(job_id)["error"]
    assert "stalled" in error and "not retried automatically: POOLIMPORT_STALLED_RETRIES is 0" in error
    assert retries_of(engine, job_id) == []
    # The router is free again for an operator's retry.
    retried = json.loads(run_cli("retry", str(job_id), "--json").stdout)
    assert show(retried["job_ids"][0])["retry_of"] == job_id


def test_a_chain_that_used_its_automatic_retry_is_not_retried_again(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    fast_heartbeat: None,
) -> None:
    add_router(sim, name="core", timeout=60)
    sim.faults.row_delay = SLOW_ROW_DELAY  # both kills land in the middle of a read
    first_victim = start_consumer()
    job_id = enqueue("core")
    wait_status(job_id, ("running",))
    first_victim.kill()

    second_victim = start_consumer()  # retries the stalled job, then dies in the retry too
    retry_id = wait_for(lambda: retries_of(engine, job_id), 30, f"an automatic retry of job #{job_id}")[0]
    wait_status(retry_id, ("running",))
    second_victim.kill()

    last = start_consumer(huey_consumer=True)  # Huey's own command sweeps too
    assert wait_status(retry_id, ("failed",), timeout=30) == "failed"
    error = show(retry_id)["error"]
    assert "stalled" in error and "not retried automatically: its 1 automatic retry is used" in error
    assert retries_of(engine, retry_id) == []
    assert any("not retried automatically" in (e.data_json or "") for e in events(engine, retry_id))
    assert f"job #{retry_id} stalled" in last.output()


def test_stalled_retries_setting_allows_zero_and_refuses_negative() -> None:
    def stalled_retries(value: str | None) -> int:
        env = {"POOLIMPORT_HOME": "/nonexistent"}
        if value is not None:
            env["POOLIMPORT_STALLED_RETRIES"] = value
        return load_settings(env).stalled_retries

    assert (stalled_retries(None), stalled_retries("0"), stalled_retries("3")) == (1, 0, 3)
    with pytest.raises(ConfigError, match="stalled_retries must be 0 or more, got '-1'"):
        stalled_retries("-1")


def test_a_stalled_sync_job_is_not_sent_to_the_queue(
    engine: Engine, settings: Settings, add_router: Callable[..., int]
) -> None:
    """`import --sync` ran in a terminal that is gone: re-running it in the background would surprise."""
    router_id = add_router(port=1)
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        job_id = create_job(
            session, ADMIN, router, time_limit=60, heartbeat_interval=10, source=JobSource.SYNC
        ).id
    long_ago = utcnow() - timedelta(hours=1)
    with engine.begin() as conn:
        claim(conn, job_id, "cli-host:1")
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(heartbeat_at=long_ago))
    sent: list[int] = []

    [handled] = auto_retry_stalled(settings, lambda job: sent.append(job) or str(job))

    assert (handled.job_id, handled.retry_id, sent) == (job_id, None, [])
    assert show(job_id)["status"] == "failed"
    assert "ran in a terminal" in str(show(job_id)["error"])
