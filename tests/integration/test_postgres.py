"""The same import on PostgreSQL (COPY bulk path, partial unique index), in a schema of its own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from poolimport.core import schema
from poolimport.core.config import Settings
from poolimport.core.db import get_engine, session_scope
from poolimport.core.imports.kinds import run_import
from poolimport.core.imports.pools.ranges import parse_ipv4_ranges
from poolimport.core.imports.pools.snapshot import PoolSpec
from poolimport.core.imports.pools.writer import PoolWriter
from poolimport.core.imports.run import ImportStopped
from poolimport.core.jobs.lifecycle import JobRefused, create_job
from poolimport.core.models import PoolAddress, Router, utcnow
from poolimport.core.routers.fields import RouterFields
from poolimport.core.routers.records import add_tenant, save_router
from poolimport.sim import SimServer
from tests.conftest import ADMIN, PASSWORD


def test_import_on_postgres_is_idempotent_and_uses_copy(
    pg_settings: Settings, sim_factory: Callable[..., SimServer]
) -> None:
    sim = sim_factory()
    engine = get_engine(pg_settings)
    schema.upgrade(engine)
    schema.ensure_current(engine)
    with session_scope(engine) as session:
        add_tenant(session, ADMIN, "acme")
        router_id = save_router(
            session,
            ADMIN,
            pg_settings,
            "acme",
            RouterFields(name="core", host="127.0.0.1", port=sim.port, username="admin"),
            PASSWORD,
        ).id
    first = run_import(engine, pg_settings, router_id)
    assert first.status == "succeeded", first.errors
    assert first.addresses == {"added": 170, "updated": 0, "stale": 0, "total": 170}
    again = run_import(engine, pg_settings, router_id)
    assert again.addresses == {"added": 0, "updated": 0, "stale": 0, "total": 170}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PoolAddress)) == 170
        owners = set(conn.scalars(select(PoolAddress.owner).where(PoolAddress.status == "used")))
    assert owners == {"alice", "bob", "carol"}


def test_one_live_job_per_router_on_postgres(pg_settings: Settings) -> None:
    engine = get_engine(pg_settings)
    schema.upgrade(engine)
    with session_scope(engine) as session:
        add_tenant(session, ADMIN, "acme")
        save_router(
            session,
            ADMIN,
            pg_settings,
            "acme",
            RouterFields(name="core", host="127.0.0.1", port=1, username="admin"),
            PASSWORD,
        )
    with session_scope(engine) as session:
        router = session.scalar(select(Router))
        first = create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=10)
    with session_scope(engine) as session, pytest.raises(JobRefused, match=f"job #{first.id}"):
        create_job(session, ADMIN, session.scalar(select(Router)), time_limit=60, heartbeat_interval=10)


def test_a_new_pool_stopped_between_batches_leaves_none_of_its_rows(pg_settings: Settings) -> None:
    # A new pool's batches go to the server as one COPY: stopping in the middle abandons all of it.
    engine = get_engine(pg_settings)
    schema.upgrade(engine)
    with session_scope(engine) as session:
        add_tenant(session, ADMIN, "acme")
        router_id = save_router(
            session,
            ADMIN,
            pg_settings,
            "acme",
            RouterFields(name="core", host="127.0.0.1", port=1, username="admin"),
            PASSWORD,
        ).id
    spec = PoolSpec(name="p", family=4, ranges="10.0.0.0/24", prefix_length=None, next_pool=None, comment="")
    spec.space = parse_ipv4_ranges(spec.ranges)

    def write(on_batch: Callable[[int], None]) -> None:
        with engine.begin() as conn:
            options = {"batch_size": 100, "max_addresses": 1000, "now": utcnow(), "dry_run": False}
            PoolWriter(conn, router_id, on_batch=on_batch, **options).write(spec)

    def stop_after_the_first(count: int) -> None:
        raise ImportStopped("cancelled")

    with pytest.raises(ImportStopped):
        write(stop_after_the_first)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PoolAddress)) == 0

    write(lambda count: None)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PoolAddress)) == 256
