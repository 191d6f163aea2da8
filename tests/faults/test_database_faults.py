"""A PostgreSQL backend terminated in the middle of a pool's write: that pool fails, none is half-written."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from poolimport.core import schema
from poolimport.core.config import Settings
from poolimport.core.db import get_engine
from poolimport.core.imports.kinds import run_import
from poolimport.core.models import IpPool, PoolAddress
from poolimport.sim import SimServer
from tests.conftest import POSTGRES_URL, router_adder, router_config, run_cli
from tests.helpers import SQL_WORDS
from tests.proxy import TcpProxy

BIG = 16_382  # 10.1.0.0/18 less its network and broadcast addresses


def table(used_owner: str) -> dict[str, Any]:
    config = router_config()
    config["menus"] = {
        "/ip/pool": [
            {"name": "a", "ranges": "10.0.0.1-10.0.0.10"},
            {"name": "big", "ranges": "10.1.0.1-10.1.63.254"},
            {"name": "z", "ranges": "10.2.0.1-10.2.0.10"},
        ],
        "/ip/pool/used": [
            {"pool": "big", "address": f"10.1.{n}.7", "owner": f"{used_owner}{n}", "info": ""}
            for n in range(50)
        ],
        "/ipv6/pool": [],
        "/ipv6/pool/used": [],
    }
    return config


def pool_state(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """Per pool: its stored counts and what its address rows really hold."""
    state = {}
    with engine.connect() as conn:
        for pool in conn.execute(select(IpPool.__table__)):
            rows = select(
                func.count(), func.count(func.distinct(PoolAddress.sort_key)), func.count(PoolAddress.owner)
            )
            counted = conn.execute(rows.where(PoolAddress.pool_id == pool.id)).one()
            state[pool.name] = (int(pool.total), pool.used_count, pool.free_count, *counted)
    return state


def terminate_own_idle_writer(settings: Settings) -> Callable[..., None]:
    """An on_progress hook that, once, terminates this test's backend that sits inside a transaction."""
    application = make_url(settings.database_url).query["application_name"]
    server = create_engine(POSTGRES_URL)
    done: list[int] = []

    def on_progress(pools_done: int, pools_total: int, addresses_done: int, addresses_total: int) -> None:
        if done or addresses_done <= 10:
            return
        with server.begin() as conn:
            killed = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name AND state = 'idle in transaction'"
                ),
                {"name": application},
            ).all()
        done.append(len(killed))

    on_progress.killed = done  # type: ignore[attr-defined]
    return on_progress


def test_terminated_backend_fails_the_pool_being_written_and_loses_nothing(
    pg_settings: Settings, sim_factory: Callable[..., SimServer]
) -> None:
    settings = dataclasses.replace(pg_settings, batch_size=2_000)
    engine = get_engine(settings)
    schema.upgrade(engine)
    sim = sim_factory(table("old"))
    router_id = router_adder(engine, settings)(sim)
    first = run_import(engine, settings, router_id)
    assert first.status == "succeeded", first.errors
    before = pool_state(engine)
    assert before["big"] == (BIG, 50, BIG - 50, BIG, BIG, 50)

    sim.set_menu("/ip/pool/used", table("new")["menus"]["/ip/pool/used"][:25])
    kill = terminate_own_idle_writer(settings)
    broken = run_import(engine, settings, router_id, on_progress=kill)
    assert kill.killed == [1]  # type: ignore[attr-defined]
    assert broken.status == "partial"
    [error] = broken.errors
    assert error["pool"] == "big" and str(error["message"]).startswith("database error: ")
    assert "UPDATE" not in str(error["message"]) and "[SQL" not in str(error["message"])
    assert pool_state(engine) == before  # the pool's transaction rolled back whole

    again = run_import(engine, settings, router_id)
    assert again.status == "succeeded", again.errors
    after = pool_state(engine)
    assert after["big"] == (BIG, 25, BIG - 25, BIG, BIG, 25)
    assert after["a"] == after["z"] == (10, 0, 10, 10, 10, 0)


def test_a_database_error_that_is_not_an_outage_is_one_line_not_a_traceback(
    any_settings: Settings, any_engine: Engine
) -> None:
    """A table gone from under a command (dropped by hand, a botched restore): SQLite calls it an
    OperationalError, PostgreSQL a ProgrammingError; either is one line, with no SQL in it."""
    with any_engine.begin() as conn:
        conn.execute(text("DROP TABLE schedules"))
    out = run_cli("schedule", "list")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith("error: database")
    assert not any(word in out.stderr for word in SQL_WORDS), out.stderr


def test_a_postgresql_server_that_never_answers_is_one_line_not_a_hang(pg_settings: Settings) -> None:
    """A server (or a route to it) that accepts the connection and then says nothing: the command gives
    up after the connect timeout with one line, rather than waiting as long as the kernel would."""
    schema.upgrade(get_engine(pg_settings))
    direct = make_url(pg_settings.database_url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432)).start()
    proxy.freeze()
    try:
        # The URL's own connect_timeout wins over the default 10 s (and keeps this test short).
        through = direct.set(host="127.0.0.1", port=proxy.port).update_query_dict({"connect_timeout": "2"})
        proxied = through.render_as_string(hide_password=False)
        out = run_cli("jobs", env={"POOLIMPORT_DATABASE_URL": proxied}, timeout=60)
    finally:
        proxy.thaw()
        proxy.stop()
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and "timeout" in line.lower(), line
