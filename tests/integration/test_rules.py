"""Rules of core that small deliberate bugs broke unnoticed: each test here fails when its rule is broken."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, update
from sqlalchemy.exc import IntegrityError

from poolimport.core import schema
from poolimport.core.config import Settings
from poolimport.core.db import get_engine, session_scope
from poolimport.core.imports.kinds import run_import
from poolimport.core.imports.pools.ranges import parse_ipv6_pool
from poolimport.core.jobs.actions import JobActions
from poolimport.core.jobs.lifecycle import finish
from poolimport.core.models import ImportJob, IpPool, utcnow
from poolimport.sim import SimServer
from tests.conftest import menus, router_adder, router_config
from tests.stored import addresses, pools, statuses


@pytest.mark.parametrize("batch_size", [1, 3, 20_000])
def test_addresses_gone_from_the_middle_of_a_range_become_stale(
    engine: Engine,
    settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    batch_size: int,
) -> None:
    settings = dataclasses.replace(settings, batch_size=batch_size)
    sim = sim_factory(menus(ip=[{"name": "p", "ranges": "10.0.0.1-10.0.0.10"}]))
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    sim.set_menu("/ip/pool", [{"name": "p", "ranges": "10.0.0.1-10.0.0.3,10.0.0.8-10.0.0.10"}])

    result = run_import(engine, settings, router_id)

    assert result.addresses["stale"] == 4
    rows = addresses(engine, "p")
    assert [rows[f"10.0.0.{n}"][0] for n in range(1, 11)] == ["free"] * 3 + ["stale"] * 4 + ["free"] * 3
    assert (pools(engine)["p"].free_count, pools(engine)["p"].stale_count) == (6, 4)


def test_an_ipv6_pool_holds_its_last_prefix_and_nothing_past_it() -> None:
    pool = parse_ipv6_pool("2001:db8::/120", "124")  # 16 prefixes: ::0, ::10 ... ::f0
    last = pool.network + 15 * 16
    assert pool.count() == 16
    assert last in pool and pool.network in pool
    assert last + 16 not in pool and pool.network - 16 not in pool
    assert last + 1 not in pool  # inside the range but not a prefix boundary


def test_a_used_entry_on_the_last_prefix_counts_as_used(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = menus(
        ipv6=[{"name": "v6", "prefix": "2001:db8::/120", "prefix-length": "124"}],
        ipv6_used=[
            {"pool": "v6", "prefix": "2001:db8::f0/124", "owner": "last", "info": ""},
            {"pool": "v6", "prefix": "2001:db8::100/124", "owner": "outside", "info": ""},
        ],
    )
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert statuses(engine, "v6") == {"used": 1, "free": 15}
    assert addresses(engine, "v6")["2001:db8::f0/124"] == ("used", "last", "")
    assert result.warnings == ["pool v6: 1 used entries are not addresses of the pool; ignored"]


def test_an_unchanged_pool_is_seen_again(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    long_ago = utcnow() - timedelta(days=3)
    with engine.begin() as conn:
        conn.execute(update(IpPool).values(last_seen=long_ago))

    result = run_import(engine, settings, router_id)

    assert {d.outcome for d in result.details} == {"unchanged"}
    assert all(pool.last_seen > long_ago + timedelta(days=2) for pool in pools(engine).values())


def test_the_database_itself_refuses_a_second_live_job_per_router(
    engine: Engine, settings: Settings, add_router: Callable[..., int]
) -> None:
    """Not only create_job's check: the partial unique index holds against any writer."""
    router_id = add_router(port=1)
    row: dict[str, Any] = {
        "router_id": router_id,
        "tenant_id": 1,
        "requested_by": "x",
        "status": "queued",
        "time_limit": 60,
    }
    with engine.begin() as conn:
        conn.execute(insert(ImportJob).values(**row))
        conn.execute(insert(ImportJob).values(**{**row, "status": "succeeded"}))  # finished: no claim
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(ImportJob).values(**{**row, "status": "running"}))


def test_retry_all_failed_retries_each_routers_newest_failure(
    engine: Engine, settings: Settings, add_router: Callable[..., int]
) -> None:
    router_ids = [add_router(port=1, name="r1"), add_router(port=1, name="r2")]
    sent: list[int] = []
    actions = JobActions(settings, send=lambda job_id: sent.append(job_id) or str(job_id))
    failed: dict[int, list[int]] = {}
    for _ in range(3):
        for router_id in router_ids:
            [job_id] = actions.import_routers([router_id]).created
            with engine.begin() as conn:
                conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(status="running"))
                finish(conn, job_id, "failed", error="boom")
            failed.setdefault(router_id, []).append(job_id)

    outcome = actions.retry_all_failed()

    assert len(outcome.created) == 2
    with session_scope(engine) as session:
        retried = {session.get(ImportJob, job_id).retry_of_id for job_id in outcome.created}  # type: ignore[union-attr]
    assert retried == {ids[-1] for ids in failed.values()}


def test_postgres_inserts_new_addresses_with_copy(
    pg_settings: Settings, sim_factory: Callable[..., SimServer]
) -> None:
    engine = get_engine(pg_settings)
    schema.upgrade(engine)
    router_id = router_adder(engine, pg_settings)(sim_factory(router_config()))
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    result = run_import(engine, pg_settings, router_id)

    assert result.addresses["added"] == 170
    # The rows went through COPY, which SQLAlchemy never sees: no INSERT into the address table at all.
    assert [s for s in statements if "INSERT INTO pool_addresses" in s] == []
    assert any("INSERT INTO ip_pools" in s for s in statements)  # the listener does see statements
