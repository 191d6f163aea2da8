"""Hostile pool tables: one bad pool never fails the others, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from poolimport.core import schema
from poolimport.core.config import Settings
from poolimport.core.db import make_engine, session_scope
from poolimport.core.imports.kinds import run_import
from poolimport.core.imports.pools.writer import PoolWriter
from poolimport.core.jobs.lifecycle import create_job
from poolimport.core.jobs.runner import execute_job
from poolimport.core.models import ImportJob, IpPool, Router
from poolimport.core.queries import pool_rows
from poolimport.sim import SimServer
from tests.conftest import ADMIN, router_config, run_cli
from tests.helpers import SQL_WORDS

# Each of these used to end the whole job: OverflowError on SQLite, "integer out of range" on PostgreSQL.
HUGE_POOLS = {
    ("half", 4): 2**31,
    ("wide", 6): 2**64,
    ("every-prefix", 6): 2**64,
    ("everything", 6): 2**128,
}


def hostile_router(**menus: list[dict[str, str]]) -> dict[str, Any]:
    config = router_config()
    config["menus"] = {
        "/ip/pool": [
            {"name": "half", "ranges": "0.0.0.0/1"},
            {"name": "small", "ranges": "10.0.0.1-10.0.0.10"},
        ],
        "/ip/pool/used": [{"pool": "small", "address": "10.0.0.2", "owner": "alice", "info": "x"}],
        "/ipv6/pool": [
            {"name": "wide", "prefix": "2001:db8:1::/48", "prefix-length": "112"},
            {"name": "every-prefix", "prefix": "::/0", "prefix-length": "64"},
            {"name": "everything", "prefix": "::/0", "prefix-length": "128"},
            {"name": "v6", "prefix": "2001:db8::/120", "prefix-length": "126"},
        ],
        "/ipv6/pool/used": [],
    }
    config["menus"].update(menus)
    return config


def stored_pools(engine: Engine) -> dict[tuple[str, int], dict[str, Any]]:
    with session_scope(engine) as session:
        router_ids = list(session.scalars(select(Router.id)))
        return {
            (row["name"], row["family"]): row
            for router_id in router_ids
            for row in pool_rows(session, ADMIN, router_id)
        }


def test_pools_of_any_size_are_stored_exactly_and_fail_nothing(
    any_engine: Engine,
    any_settings: Settings,
    sim_factory: Callable[..., SimServer],
    any_add_router: Callable[..., int],
) -> None:
    router_id = any_add_router(sim_factory(hostile_router()))
    for _ in range(2):  # the second import finds every pool unchanged
        result = run_import(any_engine, any_settings, router_id)
        assert result.status == "succeeded", result.errors
        assert result.pools["failed"] == 0
        pools = stored_pools(any_engine)
        for key, total in HUGE_POOLS.items():
            assert pools[key]["total"] == total
            assert pools[key]["expanded"] is False
        assert pools[("small", 4)]["total"] == 10
        assert (pools[("small", 4)]["used"], pools[("small", 4)]["free"]) == (1, 9)
        assert pools[("v6", 6)]["total"] == 64
    assert {d.outcome for d in result.details} == {"unchanged"}


def test_huge_pools_through_the_cli_print_exact_sizes(
    any_engine: Engine,
    any_settings: Settings,
    sim_factory: Callable[..., SimServer],
    any_add_router: Callable[..., int],
) -> None:
    any_add_router(sim_factory(hostile_router()))
    synced = run_cli("import", "r1", "--sync")
    assert synced.returncode == 0, synced.stderr
    assert "Traceback" not in synced.stderr
    listed = run_cli("pools", "r1", "--json")
    assert listed.returncode == 0, listed.stderr
    totals = {(row["name"], row["family"]): row["total"] for row in json.loads(listed.stdout)}
    for key, total in HUGE_POOLS.items():
        assert totals[key] == total
    table = run_cli("pools", "r1")
    assert str(2**128) in table.stdout.replace(",", "")


def test_an_unexpected_error_in_one_pool_fails_that_pool_alone(
    engine: Engine,
    settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router_id = add_router(sim_factory(router_config()))
    write = PoolWriter.write

    def write_or_break(self: PoolWriter, spec: Any) -> Any:
        if spec.name == "static":
            raise RuntimeError("a bug nobody foresaw")
        return write(self, spec)

    monkeypatch.setattr(PoolWriter, "write", write_or_break)
    result = run_import(engine, settings, router_id)
    assert result.status == "partial"
    assert result.pools == {"total": 3, "imported": 2, "failed": 1, "stale": 0}
    message = "internal error: RuntimeError: a bug nobody foresaw"
    assert result.errors == [{"pool": "static", "message": message}]
    assert {(k[0], v["total"]) for k, v in stored_pools(engine).items()} == {("pppoe", 100), ("v6", 64)}


def test_a_database_error_in_one_pool_names_no_sql(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim_factory(router_config()))
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_static BEFORE INSERT ON ip_pools WHEN NEW.name = 'static'"
                " BEGIN SELECT RAISE(ABORT, 'static pools are refused here'); END"
            )
        )
    result = run_import(engine, settings, router_id)
    assert result.status == "partial"
    [error] = result.errors
    assert error["pool"] == "static"
    assert "static pools are refused here" in str(error["message"])
    assert not any(word in str(error["message"]) for word in SQL_WORDS)


NUL_ROUTER = {
    "/ip/pool": [
        {"name": "nul\x00name", "ranges": "10.0.0.1-10.0.0.4", "comment": "a\x00comment"},
        {"name": "clean", "ranges": "10.0.1.1-10.0.1.4"},
    ],
    "/ip/pool/used": [{"pool": "nul\x00name", "address": "10.0.0.1", "owner": "own\x00er", "info": "i\x00"}],
}


def test_nul_bytes_from_the_router_are_stored_visibly_with_a_warning(
    any_engine: Engine,
    any_settings: Settings,
    sim_factory: Callable[..., SimServer],
    any_add_router: Callable[..., int],
) -> None:
    router_id = any_add_router(sim_factory(hostile_router(**NUL_ROUTER)))
    result = run_import(any_engine, any_settings, router_id)
    assert result.pools["failed"] == 0, result.errors
    assert result.status == "succeeded"
    pools = stored_pools(any_engine)
    shown = pools[("nul\u2400name", 4)]
    assert shown["comment"] == "a\u2400comment"
    assert (shown["total"], shown["used"]) == (4, 1)
    assert pools[("clean", 4)]["total"] == 4
    assert any("NUL" in warning and "nul\u2400name" in warning for warning in result.warnings)
    with any_engine.connect() as conn:
        owner = conn.execute(text("SELECT owner, info FROM pool_addresses WHERE status = 'used'")).one()
    assert tuple(owner) == ("own\u2400er", "i\u2400")


def test_a_job_error_never_carries_sql(
    any_engine: Engine,
    any_settings: Settings,
    sim_factory: Callable[..., SimServer],
    any_add_router: Callable[..., int],
) -> None:
    router_id = any_add_router(sim_factory(router_config()))
    with session_scope(any_engine) as session:
        router = session.get(Router, router_id)
        job_id = create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=10).id
    # A column the importer needs outside any pool is gone: the job fails as a whole.
    with any_engine.begin() as conn:
        conn.execute(text("ALTER TABLE routers RENAME COLUMN last_error TO remark"))
    run = execute_job(any_engine, any_settings, job_id)
    assert run is not None and run.status == "failed"
    with any_engine.connect() as conn:
        error, result_json = conn.execute(
            select(ImportJob.error, ImportJob.result_json).where(ImportJob.id == job_id)
        ).one()
    assert error and "last_error" in error
    assert not any(word in error for word in SQL_WORDS), error
    details = json.loads(result_json or "{}")
    for error in details.get("errors", []):
        assert not any(word in str(error["message"]) for word in SQL_WORDS), error


# -- an IPv4 and an IPv6 pool of the same name are two pools ----------------------------------------------

SAME_NAME = {
    "/ip/pool": [{"name": "subs", "ranges": "10.0.0.1-10.0.0.4"}],
    "/ip/pool/used": [{"pool": "subs", "address": "10.0.0.1", "owner": "v4-owner", "info": ""}],
    "/ipv6/pool": [{"name": "subs", "prefix": "2001:db8::/120", "prefix-length": "124"}],
    "/ipv6/pool/used": [{"pool": "subs", "prefix": "2001:db8::10/124", "owner": "v6-owner", "info": ""}],
}


def test_an_ipv4_and_an_ipv6_pool_of_one_name_are_two_pools(
    any_engine: Engine,
    any_settings: Settings,
    sim_factory: Callable[..., SimServer],
    any_add_router: Callable[..., int],
) -> None:
    router_id = any_add_router(sim_factory(hostile_router(**SAME_NAME)))
    for _ in range(2):
        result = run_import(any_engine, any_settings, router_id)
        assert result.status == "succeeded", result.errors
        assert result.pools["total"] == 2
        pools = stored_pools(any_engine)
        assert set(pools) == {("subs", 4), ("subs", 6)}
        assert (pools[("subs", 4)]["total"], pools[("subs", 4)]["used"]) == (4, 1)
        assert (pools[("subs", 6)]["total"], pools[("subs", 6)]["used"]) == (16, 1)
        assert all(pool["status"] == "active" for pool in pools.values())


def test_addresses_of_an_ambiguous_name_need_the_family(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    run_import(engine, settings, add_router(sim_factory(hostile_router(**SAME_NAME))))
    ambiguous = run_cli("addresses", "r1", "subs")
    assert ambiguous.returncode != 0
    assert ambiguous.stderr.startswith("error: ") and "--family" in ambiguous.stderr
    assert "Traceback" not in ambiguous.stderr
    v6 = run_cli("addresses", "r1", "subs", "--family", "6", "--status", "used", "--json")
    assert v6.returncode == 0, v6.stderr
    assert [row["owner"] for row in json.loads(v6.stdout)] == ["v6-owner"]
    v4 = run_cli("addresses", "r1", "subs", "--family", "4", "--status", "used", "--json")
    assert [row["owner"] for row in json.loads(v4.stdout)] == ["v4-owner"]
    listed = run_cli("pools", "r1")
    assert "6" in listed.stdout and "4" in listed.stdout


def test_pool_gone_from_one_family_leaves_its_namesake_alone(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    sim = sim_factory(hostile_router(**SAME_NAME))
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    sim.set_menu("/ipv6/pool", [])
    sim.set_menu("/ipv6/pool/used", [])
    result = run_import(engine, settings, router_id)
    assert result.pools["stale"] == 1
    pools = stored_pools(engine)
    assert pools[("subs", 6)]["status"] == "stale"
    assert pools[("subs", 4)]["status"] == "active"


def test_upgrade_to_0003_keeps_pools_and_keys_them_by_family(any_settings: Settings) -> None:
    from alembic import command

    engine = make_engine(any_settings.database_url)
    config = schema._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    statements = [
        "INSERT INTO tenants (id, name, created_at) VALUES (1, 't', '2026-01-01')",
        "INSERT INTO routers (id, tenant_id, name, host, port, tls, tls_verify, username,"
        " password_encrypted, encoding, timeout, created_at)"
        " VALUES (1, 1, 'r', 'h', 8728, false, true, 'u', :secret, 'utf-8', 10, '2026-01-01')",
        "INSERT INTO ip_pools (id, router_id, name, family, ranges, total, expanded, status, first_seen,"
        " last_seen, used_count, free_count, stale_count)"
        " VALUES (1, 1, 'subs', 4, '10.0.0.1-10.0.0.3', 3, true, 'active', '2026-01-01', '2026-01-01',"
        " 1, 2, 0)",
        "INSERT INTO import_jobs (id, router_id, tenant_id, requested_by, status, attempt, dry_run,"
        " queued_at, time_limit, cancel_requested, pools_done, pools_total, addresses_done, addresses_total)"
        " VALUES (1, 1, 1, 'op', 'succeeded', 1, false, '2026-01-01', 60, false, 1, 1, 3, 3)",
    ] + [
        "INSERT INTO pool_addresses (pool_id, sort_key, address, status)"
        f" VALUES (1, '{n:08x}', '10.0.0.{n}', '{status}')"
        for n, status in enumerate(("used", "free", "free"), start=1)
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"secret": b"\x00"} if ":secret" in statement else {})
    assert schema.upgrade(engine) == ("0002", schema.HEAD_REVISION)
    with session_scope(engine) as session:
        [pool] = pool_rows(session, ADMIN, 1)
        assert [pool[k] for k in ("name", "family", "total", "used", "free")] == ["subs", 4, 3, 1, 2]
        # The same name in the other family is now a pool of its own.
        session.add(IpPool(id=2, router_id=1, name="subs", family=6, ranges="2001:db8::/64", total=2**64))
    with session_scope(engine) as session:
        assert sorted((p["family"], p["total"]) for p in pool_rows(session, ADMIN, 1)) == [(4, 3), (6, 2**64)]
        job = session.get(ImportJob, 1)
        assert job is not None and (job.addresses_total, job.source) == (3, "queue")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pool_addresses")) == 3
    engine.dispose()
