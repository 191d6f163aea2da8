"""Every address row belongs to a pool that exists, on both databases: removing a router removes its pools'
addresses, a pool gone from its router keeps its (stale) rows, a row for no pool is refused, and on
PostgreSQL an import and a removal at the same time leave no row behind."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from poolimport.core import schema
from poolimport.core.config import Settings
from poolimport.core.db import get_engine, session_scope
from poolimport.core.imports.kinds import run_import
from poolimport.core.imports.pools.bulk import insert_addresses
from poolimport.core.models import IpPool, PoolAddress, Router
from poolimport.core.routers.records import remove_router
from poolimport.sim import SimServer
from tests.conftest import (
    ADMIN,
    EXPECTED_ADDRESSES,
    POSTGRES_URL,
    ROUTER_CONFIG,
    register_me,
    router_adder,
)
from tests.helpers import wait_for

REFUSED = (IntegrityError, psycopg.IntegrityError)
WAIT_SECONDS = 30


def orphans(engine: Engine) -> int:
    """Address rows whose pool is not in ip_pools."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(PoolAddress)
                .where(~select(IpPool.id).where(IpPool.id == PoolAddress.pool_id).exists())
            )
            or 0
        )


def address_count(engine: Engine, router_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(PoolAddress)
    if router_id is not None:
        stmt = stmt.join(IpPool, IpPool.id == PoolAddress.pool_id).where(IpPool.router_id == router_id)
    with engine.connect() as conn:
        return int(conn.scalar(stmt) or 0)


def remove(engine: Engine, router_id: int) -> None:
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        remove_router(session, ADMIN, router)


def a_pool_id(engine: Engine, router_id: int) -> int:
    with engine.connect() as conn:
        pool_id = conn.scalar(select(IpPool.id).where(IpPool.router_id == router_id).limit(1))
    assert pool_id is not None
    return int(pool_id)


def new_rows(pool_id: int, count: int = 3) -> list[tuple[int, str, str, str, None, None]]:
    # Keys no pool of ROUTER_CONFIG has: these rows are new wherever they go.
    return [(pool_id, f"ff{n:06x}", f"255.0.0.{n}", "free", None, None) for n in range(count)]


def test_removing_a_router_removes_its_addresses_and_only_those(
    any_engine: Engine,
    any_settings: Settings,
    sim: SimServer,
    any_add_router: Callable[..., int],
) -> None:
    kept, removed = any_add_router(sim, name="kept"), any_add_router(sim, name="removed")
    for router_id in (kept, removed):
        assert run_import(any_engine, any_settings, router_id).status == "succeeded"
    assert address_count(any_engine) == 2 * EXPECTED_ADDRESSES

    remove(any_engine, removed)

    assert address_count(any_engine) == address_count(any_engine, kept) == EXPECTED_ADDRESSES
    assert orphans(any_engine) == 0


def test_a_pool_gone_from_its_router_keeps_its_rows_as_stale(
    any_engine: Engine,
    any_settings: Settings,
    sim: SimServer,
    any_add_router: Callable[..., int],
) -> None:
    router_id = any_add_router(sim)
    run_import(any_engine, any_settings, router_id)
    sim.set_menu("/ip/pool", [ROUTER_CONFIG["menus"]["/ip/pool"][0]])  # static is gone

    assert run_import(any_engine, any_settings, router_id).pools["stale"] == 1

    assert address_count(any_engine) == EXPECTED_ADDRESSES
    assert orphans(any_engine) == 0
    remove(any_engine, router_id)
    assert address_count(any_engine) == 0


def test_an_address_of_no_pool_is_refused(
    any_engine: Engine, any_settings: Settings, sim: SimServer, any_add_router: Callable[..., int]
) -> None:
    router_id = any_add_router(sim)
    run_import(any_engine, any_settings, router_id)
    missing = a_pool_id(any_engine, router_id) + 1000

    with pytest.raises(REFUSED, match="(?i)foreign key"), any_engine.begin() as conn:
        insert_addresses(conn, new_rows(missing))
    with pytest.raises(REFUSED, match="(?i)foreign key"), any_engine.begin() as conn:
        first = select(func.min(PoolAddress.id)).scalar_subquery()
        conn.execute(update(PoolAddress).where(PoolAddress.id == first).values(pool_id=missing))
    with pytest.raises(REFUSED, match="(?i)foreign key"), any_engine.begin() as conn:
        conn.execute(update(IpPool).where(IpPool.router_id == router_id).values(id=IpPool.id + 1000))

    assert address_count(any_engine) == EXPECTED_ADDRESSES
    assert orphans(any_engine) == 0


# -- PostgreSQL: an import and a removal at the same time --------------------------------------------------


def others_waiting_for_a_lock(engine: Engine) -> int:
    """Backends of this test's schema (its application_name) that wait for a lock another one holds."""
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND application_name = current_setting('application_name')"
                )
            )
            or 0
        )


@pytest.fixture
def pg_engine(pg_settings: Settings) -> Engine:
    engine = get_engine(pg_settings)
    schema.upgrade(engine)
    register_me(engine)
    return engine


@pytest.fixture
def imported_router(pg_engine: Engine, pg_settings: Settings, sim: SimServer) -> int:
    router_id = router_adder(pg_engine, pg_settings)(sim)
    assert run_import(pg_engine, pg_settings, router_id).status == "succeeded"
    return router_id


def in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, failures


def test_a_removal_during_an_import_waits_and_then_removes_the_new_rows(
    pg_engine: Engine, imported_router: int
) -> None:
    pool_id = a_pool_id(pg_engine, imported_router)

    with pg_engine.begin() as importing:
        insert_addresses(importing, new_rows(pool_id))
        removal, failures = in_thread(lambda: remove(pg_engine, imported_router))
        wait_for(lambda: others_waiting_for_a_lock(pg_engine), what="the removal to wait for the import")
    removal.join(WAIT_SECONDS)

    assert not removal.is_alive() and not failures, failures
    assert address_count(pg_engine) == 0
    assert orphans(pg_engine) == 0


def test_an_import_during_a_removal_waits_and_then_is_refused(
    pg_engine: Engine, imported_router: int
) -> None:
    pool_id = a_pool_id(pg_engine, imported_router)

    def import_rows() -> None:
        with pg_engine.begin() as importing:
            insert_addresses(importing, new_rows(pool_id))

    with session_scope(pg_engine) as session:
        router = session.get(Router, imported_router)
        assert router is not None
        remove_router(session, ADMIN, router)
        session.flush()
        importer, failures = in_thread(import_rows)
        wait_for(lambda: others_waiting_for_a_lock(pg_engine), what="the import to wait for the removal")
    importer.join(WAIT_SECONDS)

    assert not importer.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], REFUSED), failures
    assert address_count(pg_engine) == 0
    assert orphans(pg_engine) == 0


def test_truncating_the_pools_leaves_no_addresses(pg_engine: Engine, imported_router: int) -> None:
    with pg_engine.begin() as conn:
        conn.execute(text("TRUNCATE ip_pools"))

    assert address_count(pg_engine) == 0


def test_pools_are_deleted_only_where_the_delete_sees_rows_inserted_meanwhile(
    pg_engine: Engine, imported_router: int
) -> None:
    # Under REPEATABLE READ the delete of the addresses would not see those of an import it waited for.
    repeatable = pg_engine.execution_options(isolation_level="REPEATABLE READ")
    with pytest.raises(DBAPIError, match="READ COMMITTED"), repeatable.begin() as conn:
        conn.execute(delete(Router).where(Router.id == imported_router))

    assert address_count(pg_engine, imported_router) == EXPECTED_ADDRESSES


def test_a_router_deleted_from_another_search_path_takes_its_addresses(
    pg_engine: Engine, imported_router: int
) -> None:
    with pg_engine.connect() as conn:
        own_schema = conn.scalar(text("SELECT current_schema()"))
    server = create_engine(POSTGRES_URL)
    try:
        with server.begin() as conn:
            conn.execute(text(f"DELETE FROM {own_schema}.routers WHERE id = :id"), {"id": imported_router})
    finally:
        server.dispose()

    assert address_count(pg_engine) == 0
