"""The import engine end to end: librouteros against the simulator over real sockets, a real SQLite file."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from poolimport.core.config import Settings
from poolimport.core.events import Event, EventKind
from poolimport.core.imports.kinds import run_import
from poolimport.core.imports.run import ImportResult
from poolimport.core.models import Router
from poolimport.sim import SimServer
from tests.conftest import PASSWORD, ROUTER_CONFIG, menus, router_config
from tests.helpers import assert_all_closed
from tests.stored import addresses, dump, pools, statuses

PPPOE, STATIC, V6 = 100, 6, 64
TOTAL = PPPOE + STATIC + V6


# -- helpers -----------------------------------------------------------------------------------------------


def raw_rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def pool_dump(engine: Engine, name: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """One pool's row (every column) and its addresses, exactly as stored."""
    pool = raw_rows(engine, "SELECT * FROM ip_pools WHERE name = :n", n=name)
    rows = raw_rows(
        engine,
        "SELECT a.* FROM pool_addresses a JOIN ip_pools p ON p.id = a.pool_id"
        " WHERE p.name = :n ORDER BY a.id",
        n=name,
    )
    return pool, rows


def counts(result: ImportResult) -> tuple[dict[str, int], dict[str, int]]:
    return result.pools, result.addresses


# -- a first import, and importing again -----------------------------------------------------------------


def test_first_import_stores_every_pool_and_address(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    result = run_import(engine, settings, add_router(sim))
    assert result.status == "succeeded"
    assert result.errors == [] and result.warnings == []
    assert result.pools == {"total": 3, "imported": 3, "failed": 0, "stale": 0}
    assert result.addresses == {"added": TOTAL, "updated": 0, "stale": 0, "total": TOTAL}
    assert {d.name: d.outcome for d in result.details} == {"pppoe": "added", "static": "added", "v6": "added"}

    stored = pools(engine)
    assert set(stored) == {"pppoe", "static", "v6"}
    pppoe, static, v6 = stored["pppoe"], stored["static"], stored["v6"]
    assert (pppoe.family, pppoe.ranges, pppoe.total, pppoe.expanded) == (
        4,
        "100.64.0.2-100.64.0.101",
        100,
        True,
    )
    assert (pppoe.next_pool, pppoe.comment, pppoe.prefix_length) == (None, "subscribers", None)
    assert (static.ranges, static.next_pool, static.comment, static.total) == (
        "10.10.0.0/30,10.10.1.10-10.10.1.11",
        "pppoe",
        None,
        STATIC,
    )
    assert (v6.family, v6.ranges, v6.prefix_length, v6.total) == (6, "2001:db8::/120", 126, V6)
    assert {p.status for p in stored.values()} == {"active"}

    rows = addresses(engine, "pppoe")
    assert len(rows) == PPPOE
    assert rows["100.64.0.2"] == ("used", "alice", "pppoe-out1")
    assert rows["100.64.0.3"] == ("used", "bob", "pppoe-out2")
    assert rows["100.64.0.4"] == ("free", None, None)
    assert list(rows)[-1] == "100.64.0.101"
    assert list(addresses(engine, "static")) == [
        "10.10.0.0", "10.10.0.1", "10.10.0.2", "10.10.0.3", "10.10.1.10", "10.10.1.11",
    ]  # fmt: skip
    v6_rows = addresses(engine, "v6")
    assert list(v6_rows)[:3] == ["2001:db8::/126", "2001:db8::4/126", "2001:db8::8/126"]
    assert list(v6_rows)[-1] == "2001:db8::fc/126"
    assert v6_rows["2001:db8::4/126"] == ("used", "carol", "dhcpv6")
    assert statuses(engine, "v6") == {"free": 63, "used": 1}

    with engine.connect() as conn:
        router = conn.execute(select(Router.last_status, Router.last_error)).one()
    assert tuple(router) == ("ok", None)


def test_reimport_of_an_unchanged_router_changes_nothing(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    before = dump(engine)
    seen_before = {name: pool.last_seen for name, pool in pools(engine).items()}

    result = run_import(engine, settings, router_id)
    assert result.status == "succeeded"
    assert result.pools == {"total": 3, "imported": 3, "failed": 0, "stale": 0}
    assert result.addresses == {"added": 0, "updated": 0, "stale": 0, "total": TOTAL}
    assert {d.outcome for d in result.details} == {"unchanged"}
    assert dump(engine) == before
    assert all(pool.last_seen >= seen_before[name] for name, pool in pools(engine).items())


def test_same_pool_name_on_two_routers_is_two_pools(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    first = add_router(sim_factory(), name="r1")
    other = router_config()
    other["menus"]["/ip/pool"] = [{"name": "pppoe", "ranges": "192.168.0.1-192.168.0.3"}]
    other["menus"]["/ip/pool/used"] = []
    second = add_router(sim_factory(other), name="r2")
    assert run_import(engine, settings, first).status == "succeeded"
    result = run_import(engine, settings, second)
    assert result.status == "succeeded"
    # Keyed by (router, name): r2's import neither touches r1's pppoe nor marks r1's other pools stale.
    assert result.pools["stale"] == 0
    rows = raw_rows(
        engine,
        "SELECT router_id, name, CAST(total AS INTEGER), status FROM ip_pools WHERE name = 'pppoe'"
        " ORDER BY id",
    )
    assert rows == [(first, "pppoe", PPPOE, "active"), (second, "pppoe", 3, "active")]
    assert len(addresses(engine, "static")) == STATIC


# -- changes between imports -----------------------------------------------------------------------------


def test_pool_gone_from_the_router_becomes_stale_and_comes_back(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    sim.set_menu("/ip/pool", [ROUTER_CONFIG["menus"]["/ip/pool"][0]])  # static is gone

    result = run_import(engine, settings, router_id)
    assert result.status == "succeeded"
    assert result.pools == {"total": 2, "imported": 2, "failed": 0, "stale": 1}
    assert result.addresses == {"added": 0, "updated": 0, "stale": STATIC, "total": PPPOE + V6}
    stored = pools(engine)
    assert stored["static"].status == "stale"
    assert stored["static"].ranges == "10.10.0.0/30,10.10.1.10-10.10.1.11"  # kept as it was
    assert statuses(engine, "static") == {"stale": STATIC}
    assert statuses(engine, "pppoe") == {"used": 2, "free": 98}

    again = run_import(engine, settings, router_id)
    assert again.pools["stale"] == 0 and again.addresses["stale"] == 0  # already stale: not counted twice

    sim.set_menu("/ip/pool", ROUTER_CONFIG["menus"]["/ip/pool"])
    back = run_import(engine, settings, router_id)
    assert back.pools == {"total": 3, "imported": 3, "failed": 0, "stale": 0}
    assert back.addresses == {"added": 0, "updated": STATIC, "stale": 0, "total": TOTAL}
    assert pools(engine)["static"].status == "active"
    assert statuses(engine, "static") == {"free": STATIC}


def test_address_gone_from_its_pool_becomes_stale(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    shrunk = router_config()["menus"]["/ip/pool"]
    shrunk[0]["ranges"] = "100.64.0.2-100.64.0.51"
    sim.set_menu("/ip/pool", shrunk)

    result = run_import(engine, settings, router_id)
    assert result.addresses == {"added": 0, "updated": 0, "stale": 50, "total": 50 + STATIC + V6}
    rows = addresses(engine, "pppoe")
    assert len(rows) == PPPOE  # kept, not deleted
    assert rows["100.64.0.51"] == ("free", None, None)
    assert rows["100.64.0.52"][0] == rows["100.64.0.101"][0] == "stale"
    assert statuses(engine, "pppoe") == {"used": 2, "free": 48, "stale": 50}
    assert pools(engine)["pppoe"].total == 50

    # Grow it back, past the old end: stale addresses return as free, new ones are added.
    shrunk[0]["ranges"] = "100.64.0.2-100.64.0.111"
    sim.set_menu("/ip/pool", shrunk)
    result = run_import(engine, settings, router_id)
    assert result.addresses == {"added": 10, "updated": 50, "stale": 0, "total": 110 + STATIC + V6}
    assert statuses(engine, "pppoe") == {"used": 2, "free": 108}


def test_used_and_freed_addresses(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    sim.set_menu(
        "/ip/pool/used",
        [
            {"pool": "pppoe", "address": "100.64.0.3", "owner": "bob", "info": "pppoe-out9"},  # info changed
            {"pool": "pppoe", "address": "100.64.0.50", "owner": "dave", "info": "pppoe-out3"},  # newly used
            {"pool": "static", "address": "10.10.1.11", "owner": "printer", "info": ""},
        ],
    )  # alice's 100.64.0.2 is freed

    result = run_import(engine, settings, router_id)
    assert result.status == "succeeded"
    assert result.addresses == {"added": 0, "updated": 4, "stale": 0, "total": TOTAL}
    rows = addresses(engine, "pppoe")
    assert rows["100.64.0.2"] == ("free", None, None)
    assert rows["100.64.0.3"] == ("used", "bob", "pppoe-out9")
    assert rows["100.64.0.50"] == ("used", "dave", "pppoe-out3")
    assert addresses(engine, "static")["10.10.1.11"] == ("used", "printer", "")
    assert {d.name: d.outcome for d in result.details} == {
        "pppoe": "changed",
        "static": "changed",
        "v6": "unchanged",
    }


def test_multi_range_pools_expand_fully(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = menus(
        ip=[
            {"name": "dashes", "ranges": "10.0.0.1-10.0.0.3,10.0.0.10-10.0.0.12"},
            {"name": "cidrs", "ranges": "10.1.0.0/24,10.2.0.0/24"},
            {"name": "mixed", "ranges": "10.3.0.1, 10.3.0.5-10.3.0.6,10.3.0.8/31"},
            {"name": "overlap", "ranges": "10.4.0.1-10.4.0.5,10.4.0.3-10.4.0.8"},
        ]
    )
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "succeeded"
    assert result.addresses["added"] == result.addresses["total"] == 6 + 512 + 5 + 8
    assert list(addresses(engine, "dashes")) == [
        "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.10", "10.0.0.11", "10.0.0.12",
    ]  # fmt: skip
    cidrs = list(addresses(engine, "cidrs"))
    assert len(cidrs) == 512
    assert (cidrs[0], cidrs[255], cidrs[256], cidrs[-1]) == (
        "10.1.0.0",
        "10.1.0.255",
        "10.2.0.0",
        "10.2.0.255",
    )
    assert list(addresses(engine, "mixed")) == ["10.3.0.1", "10.3.0.5", "10.3.0.6", "10.3.0.8", "10.3.0.9"]
    assert len(addresses(engine, "overlap")) == 8
    assert pools(engine)["mixed"].ranges == "10.3.0.1, 10.3.0.5-10.3.0.6,10.3.0.8/31"  # the router's text


def test_names_and_comments_stay_the_routers_text(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = menus(
        ip=[
            {"name": "100", "ranges": "10.0.0.1", "comment": "true"},
            {"name": "007", "ranges": "10.0.0.2", "next-pool": "100", "comment": "0"},
            {"name": "yes", "ranges": "10.0.0.3", "next-pool": "007"},
        ],
        ip_used=[{"pool": "007", "address": "10.0.0.2", "owner": "0042", "info": "no"}],
    )
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "succeeded"
    rows = raw_rows(engine, "SELECT name, next_pool, comment FROM ip_pools ORDER BY name")
    assert rows == [("007", "100", "0"), ("100", None, "true"), ("yes", "007", None)]
    assert addresses(engine, "007") == {"10.0.0.2": ("used", "0042", "no")}


# -- malformed and oversized pools ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranges", "token"),
    [
        ("10.0.0.1-10.0.0.300", "10.0.0.300"),
        ("10.0.0.9-10.0.0.1", "10.0.0.9-10.0.0.1"),
        ("abc", "abc"),
        ("10.0.0.1,,10.0.0.3", ""),
        ("10.0.0.0/33", "/33"),
    ],
)
def test_a_malformed_pool_fails_alone_and_keeps_its_stored_data(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    ranges: str,
    token: str,
) -> None:
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    stored_static = pool_dump(engine, "static")
    broken = router_config()["menus"]["/ip/pool"]
    broken[1]["ranges"] = ranges
    broken[0]["comment"] = "changed"  # pppoe changes in the same import: it must still be written
    sim.set_menu("/ip/pool", broken)
    sim.set_menu("/ip/pool/used", [*ROUTER_CONFIG["menus"]["/ip/pool/used"], {"pool": "static",
                 "address": "10.10.0.1", "owner": "x", "info": "y"}])  # fmt: skip

    result = run_import(engine, settings, router_id)
    assert result.status == "partial"
    assert result.pools == {"total": 3, "imported": 2, "failed": 1, "stale": 0}
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error["pool"] == "static"
    assert repr(token) in str(error["message"])
    assert pool_dump(engine, "static") == stored_static  # every column, last_seen included
    assert pools(engine)["pppoe"].comment == "changed"


def test_every_pool_malformed_is_failed(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = menus(ip=[{"name": "a", "ranges": "nope"}, {"name": "b", "ranges": "10.0.0.5-10.0.0.1"}])
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "failed"
    assert result.pools == {"total": 2, "imported": 0, "failed": 2, "stale": 0}
    assert [e["pool"] for e in result.errors] == ["a", "b"]
    assert dump(engine) == {"ip_pools": [], "pool_addresses": []}


def test_duplicate_pool_names_fail_the_second(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = menus(ip=[{"name": "dup", "ranges": "10.0.0.1-10.0.0.2"}, {"name": "dup", "ranges": "10.9.0.1"}])
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "partial"
    assert result.errors == [{"pool": "dup", "message": "the router sent two pools with this name"}]
    assert list(addresses(engine, "dup")) == ["10.0.0.1", "10.0.0.2"]


def test_a_pool_over_max_addresses_is_stored_unexpanded(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    small = dataclasses.replace(settings, max_addresses_per_pool=80)
    result = run_import(engine, small, router_id)
    assert result.status == "succeeded"
    assert result.addresses == {"added": STATIC + V6, "updated": 0, "stale": 0, "total": TOTAL}
    assert len(result.warnings) == 1
    assert (
        "pool pppoe: 100 addresses" in result.warnings[0]
        and "max_addresses_per_pool (80)" in result.warnings[0]
    )
    pppoe = pools(engine)["pppoe"]
    assert (pppoe.ranges, pppoe.total, pppoe.expanded, pppoe.status) == (
        "100.64.0.2-100.64.0.101",
        100,
        False,
        "active",
    )
    assert addresses(engine, "pppoe") == {}
    assert len(addresses(engine, "v6")) == V6

    again = run_import(engine, small, router_id)
    assert again.addresses == {"added": 0, "updated": 0, "stale": 0, "total": TOTAL}

    # With the limit raised, the same pool expands.
    result = run_import(engine, settings, router_id)
    assert result.addresses["added"] == PPPOE
    assert pools(engine)["pppoe"].expanded is True
    assert statuses(engine, "pppoe") == {"used": 2, "free": 98}


def test_max_addresses_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sim: SimServer, add_router: Callable[..., int], engine: Engine
) -> None:
    from poolimport.core.config import load_settings

    monkeypatch.setenv("POOLIMPORT_MAX_ADDRESSES_PER_POOL", "5")
    settings = load_settings()
    assert settings.max_addresses_per_pool == 5
    result = run_import(engine, settings, add_router(sim))
    assert result.addresses["added"] == 0
    assert {p.expanded for p in pools(engine).values()} == {False}
    assert len(result.warnings) == 3


# -- empty routers and read failures ---------------------------------------------------------------------


@pytest.mark.parametrize("send_empty", [False, True])  # RouterOS 7.18+ answers an empty print with !empty
def test_empty_router_succeeds_with_a_warning(
    engine: Engine,
    settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    send_empty: bool,
) -> None:
    config = menus()
    config["send_empty"] = send_empty
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "succeeded"
    assert result.pools == {"total": 0, "imported": 0, "failed": 0, "stale": 0}
    assert result.warnings == ["the router has no IP pools"]
    assert result.errors == []


@pytest.mark.parametrize("fault", ["down", "drop", "stall", "fatal", "auth"])
def test_read_failure_is_failed_and_marks_nothing_stale(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    fault: str,
) -> None:
    router_id = add_router(sim, timeout=0.5)
    run_import(engine, settings, router_id)
    before = dump(engine, skip=())
    served = sim.connections_served
    if fault == "down":
        sim.stop()
    elif fault == "drop":
        sim.faults.drop_after_rows = 1  # /ip/pool is fine (2 rows: drops after the first)
    elif fault == "stall":
        sim.faults.stall_after_rows = 2
    elif fault == "fatal":
        sim.faults.fatal_after_rows = 1
    else:
        sim.faults.refuse_logins = True

    result = run_import(engine, settings, router_id)
    assert result.status == "failed"
    assert result.pools == {"total": 0, "imported": 0, "failed": 0, "stale": 0}
    assert result.addresses == {"added": 0, "updated": 0, "stale": 0, "total": 0}
    assert len(result.errors) == 1 and result.errors[0]["pool"] is None
    message = str(result.errors[0]["message"])
    assert message.startswith("reading pools failed: ")
    assert f"127.0.0.1:{sim.port}" in message
    assert PASSWORD not in message
    assert "the router has no IP pools" not in result.warnings
    assert dump(engine, skip=()) == before  # nothing stale, nothing touched
    with engine.connect() as conn:
        status, error = conn.execute(select(Router.last_status, Router.last_error)).one()
    assert (status, error) == ("error", message.removeprefix("reading pools failed: "))
    if fault != "down":
        assert sim.connections_served == served + 1
        assert_all_closed(sim)


def test_a_router_without_ipv6_imports_ipv4_and_keeps_ipv6_pools(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    run_import(engine, settings, router_id)
    sim.config["ipv6"] = False  # e.g. the ipv6 package disabled since the last import

    result = run_import(engine, settings, router_id)
    assert result.status == "succeeded"
    assert result.pools == {"total": 2, "imported": 2, "failed": 0, "stale": 0}
    assert len(result.warnings) == 1 and "/ipv6/pool" in result.warnings[0]
    assert "IPv6 pools skipped" in result.warnings[0]
    # IPv6 was not read, so its pools are not known to be gone: they stay as they were.
    assert pools(engine)["v6"].status == "active"
    assert statuses(engine, "v6") == {"free": 63, "used": 1}


def test_ipv6_without_a_used_menu(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = router_config()
    del config["menus"]["/ipv6/pool/used"]
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "succeeded"
    assert statuses(engine, "v6") == {"free": V6}


# -- encodings ---------------------------------------------------------------------------------------------


@pytest.fixture
def latin1_sim(sim_factory: Callable[..., SimServer]) -> SimServer:
    config = router_config(encoding="latin-1")
    config["menus"]["/ip/pool"][0]["name"] = "café"
    config["menus"]["/ip/pool"][1]["comment"] = "Zürich"
    for row in config["menus"]["/ip/pool/used"]:
        row["pool"] = "café"
    config["menus"]["/ip/pool/used"][1]["owner"] = "josé"
    return sim_factory(config)


def test_router_encoding_is_used_for_its_text(
    engine: Engine, settings: Settings, latin1_sim: SimServer, add_router: Callable[..., int]
) -> None:
    result = run_import(engine, settings, add_router(latin1_sim, encoding="latin-1"))
    assert result.status == "succeeded" and result.warnings == []
    assert pools(engine)["static"].comment == "Zürich"
    assert addresses(engine, "café")["100.64.0.3"] == ("used", "josé", "pppoe-out2")


def test_undecodable_bytes_are_a_warning_naming_the_field(
    engine: Engine, settings: Settings, latin1_sim: SimServer, add_router: Callable[..., int]
) -> None:
    result = run_import(engine, settings, add_router(latin1_sim))  # utf-8: é is not valid
    assert result.status == "succeeded"
    by_pool = {w.split(":", 1)[0]: w for w in result.warnings}
    assert "bytes in name are not valid" in by_pool["pool caf\ufffd"]
    assert "bytes in comment are not valid" in by_pool["pool static"]
    used_warning = [w for w in result.warnings if "used entries" in w]
    assert len(used_warning) == 1 and "owner" in used_warning[0] and "pool" in used_warning[0]
    # Stored with U+FFFD where the byte was, never shortened.
    assert pools(engine)["static"].comment == "Z\ufffdrich"
    assert addresses(engine, "caf\ufffd")["100.64.0.3"] == ("used", "jos\ufffd", "pppoe-out2")


# -- IPv6 --------------------------------------------------------------------------------------------------


def test_ipv6_prefixes_and_single_addresses(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = menus(
        ipv6=[
            {"name": "pd", "prefix": "2001:db8:100::/120", "prefix-length": "124"},
            {"name": "single", "prefix": "2001:db8:200::/124", "prefix-length": "128"},
        ],
        ipv6_used=[
            {"pool": "pd", "prefix": "2001:db8:100::20/124", "owner": "cpe-1", "info": "dhcpv6-pd"},
            {"pool": "single", "prefix": "2001:db8:200::5", "owner": "host-5", "info": "dhcp"},
            {"pool": "single", "prefix": "2001:db8:200::7/128", "owner": "host-7", "info": "dhcp"},
        ],
    )
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "succeeded", result.errors
    assert result.warnings == []
    assert result.addresses == {"added": 32, "updated": 0, "stale": 0, "total": 32}
    pd = addresses(engine, "pd")
    assert list(pd)[:3] == ["2001:db8:100::/124", "2001:db8:100::10/124", "2001:db8:100::20/124"]
    assert list(pd)[-1] == "2001:db8:100::f0/124"
    assert pd["2001:db8:100::20/124"] == ("used", "cpe-1", "dhcpv6-pd")
    single = addresses(engine, "single")
    assert list(single)[0] == "2001:db8:200::" and list(single)[-1] == "2001:db8:200::f"
    assert not any("/" in address for address in single)
    assert single["2001:db8:200::5"] == ("used", "host-5", "dhcp")
    assert single["2001:db8:200::7"] == ("used", "host-7", "dhcp")
    stored = pools(engine)
    assert (stored["pd"].family, stored["pd"].prefix_length, stored["pd"].total) == (6, 124, 16)
    assert (stored["single"].prefix_length, stored["single"].ranges) == (128, "2001:db8:200::/124")


def test_malformed_ipv6_pool_fails_alone(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = router_config()
    config["menus"]["/ipv6/pool"].append({"name": "bad6", "prefix": "2001:db8::/64", "prefix-length": "48"})
    result = run_import(engine, settings, add_router(sim_factory(config)))
    assert result.status == "partial"
    assert result.errors[0]["pool"] == "bad6" and "'48'" in str(result.errors[0]["message"])
    assert result.pools["imported"] == 3


# -- dry run, progress, events, stopping ------------------------------------------------------------------


def test_dry_run_computes_the_diff_and_writes_nothing(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    first_dry = run_import(engine, settings, router_id, dry_run=True)
    assert first_dry.dry_run and first_dry.status == "succeeded"
    assert first_dry.addresses == {"added": TOTAL, "updated": 0, "stale": 0, "total": TOTAL}
    assert dump(engine) == {"ip_pools": [], "pool_addresses": []}

    run_import(engine, settings, router_id)
    changed = router_config()["menus"]["/ip/pool"]
    changed[0]["ranges"] = "100.64.0.2-100.64.0.91"  # 10 addresses gone
    changed[1]["ranges"] += ",10.10.2.1-10.10.2.4"  # 4 new
    sim.set_menu("/ip/pool", changed)
    sim.set_menu("/ip/pool/used", [ROUTER_CONFIG["menus"]["/ip/pool/used"][1]])  # alice freed
    sim.set_menu("/ipv6/pool", [])  # v6 gone
    before = dump(engine, skip=()), raw_rows(engine, "SELECT * FROM routers")

    dry = run_import(engine, settings, router_id, dry_run=True)
    assert (dump(engine, skip=()), raw_rows(engine, "SELECT * FROM routers")) == before
    real = run_import(engine, settings, router_id)
    assert (dry.status, dry.pools, dry.addresses) == (real.status, real.pools, real.addresses)
    assert dry.addresses == {"added": 4, "updated": 1, "stale": 10 + V6, "total": 90 + 10}
    assert dry.pools == {"total": 2, "imported": 2, "failed": 0, "stale": 1}
    assert [(d.name, d.outcome, d.added, d.updated, d.stale) for d in dry.details] == [
        ("pppoe", "changed", 0, 1, 10),
        ("static", "changed", 4, 0, 0),
    ]


def test_progress_and_events(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    progress: list[tuple[int, int, int, int]] = []
    events: list[Event] = []
    small = dataclasses.replace(settings, batch_size=16)
    router_id = add_router(sim)
    result = run_import(
        engine,
        small,
        router_id,
        on_progress=lambda *values: progress.append(values),
        on_event=events.append,
    )
    assert result.status == "succeeded"
    assert progress[0] == (0, 3, 0, TOTAL)
    assert progress[-1] == (3, 3, TOTAL, TOTAL)
    assert len(progress) > 3 + TOTAL // 16  # per batch, not only per pool
    for earlier, later in zip(progress, progress[1:], strict=False):
        assert later[0] >= earlier[0] and later[2] >= earlier[2]
        assert later[1] == 3 and later[3] == TOTAL
    assert all(p[2] <= p[3] for p in progress)

    kinds = [e.kind for e in events]
    assert kinds[:2] == [EventKind.ROUTER_CONNECTING, EventKind.ROUTER_READ]
    assert events[0].data == {"host": "127.0.0.1", "port": sim.port}
    assert events[1].data == {"pools": 3}
    pool_events = [e for e in events if e.kind == EventKind.POOL_IMPORTED]
    assert [e.data["pool"] for e in pool_events] == ["pppoe", "static", "v6"]
    assert pool_events[0].data["outcome"] == "added" and pool_events[0].data["added"] == PPPOE
    assert {e.level for e in events} == {"info"}

    # A failing pool and the stale count are events too.
    progress.clear()
    events.clear()
    broken = router_config()["menus"]["/ip/pool"][:1]
    broken[0]["ranges"] = "100.64.0.2-100.64.0.999"
    sim.set_menu("/ip/pool", broken)
    result = run_import(
        engine,
        small,
        router_id,
        on_progress=lambda *values: progress.append(values),
        on_event=events.append,
    )
    assert result.status == "partial"
    failed = [e for e in events if e.kind == EventKind.POOL_FAILED]
    assert [(e.level, e.data["pool"]) for e in failed] == [("error", "pppoe")]
    assert "bad address '100.64.0.999'" in failed[0].message  # the router's own text, said once
    gone = [e for e in events if e.kind == EventKind.POOLS_GONE]
    assert [(e.level, e.data) for e in gone] == [("warning", {"pools": 1})]
    assert progress[-1] == (2, 2, V6, V6)


def test_stop_rolls_back_the_pool_being_written_and_keeps_earlier_ones(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = menus(
        ip=[
            {"name": "first", "ranges": "10.0.0.1-10.0.0.5"},
            {"name": "second", "ranges": "10.1.0.1-10.1.0.30"},
        ]
    )
    sim = sim_factory(config)
    router_id = add_router(sim)
    small = dataclasses.replace(settings, batch_size=10)
    assert run_import(engine, small, router_id).status == "succeeded"
    second_before = pool_dump(engine, "second")
    # second grows by one address: it is merged batch by batch, not only its used entries written.
    grown = [config["menus"]["/ip/pool"][0], {"name": "second", "ranges": "10.1.0.1-10.1.0.31"}]
    sim.set_menu("/ip/pool", grown)
    sim.set_menu(
        "/ip/pool/used",
        [
            {"pool": "first", "address": "10.0.0.2", "owner": "a", "info": "x"},
            {"pool": "second", "address": "10.1.0.2", "owner": "b", "info": "y"},  # in the first batch
            {"pool": "second", "address": "10.1.0.29", "owner": "c", "info": "z"},  # in the last batch
        ],
    )
    done = {"addresses": 0}

    def on_progress(pools_done: int, pools_total: int, addresses_done: int, addresses_total: int) -> None:
        done["addresses"] = addresses_done

    def should_stop() -> str | None:
        # After first (5 addresses) and one batch of second: stop mid-pool.
        return "job time limit of 1 s reached" if done["addresses"] > 5 else None

    result = run_import(engine, small, router_id, on_progress=on_progress, should_stop=should_stop)
    assert result.status == "failed"
    assert result.errors == [{"pool": None, "message": "job time limit of 1 s reached"}]
    assert result.pools["imported"] == 1
    assert done["addresses"] == 15
    assert addresses(engine, "first")["10.0.0.2"] == ("used", "a", "x")  # fully written
    assert pool_dump(engine, "second") == second_before  # rolled back, untouched

    # The next import completes the job.
    again = run_import(engine, small, router_id)
    assert again.status == "succeeded"
    assert addresses(engine, "second")["10.1.0.29"] == ("used", "c", "z")


def test_stop_rolls_back_a_pool_whose_used_entries_were_being_written(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    """Ranges unchanged, leases changed: the pool's progress comes in one step, after its writes, and a
    stop asked for then undoes them."""
    sim = sim_factory(menus(ip=[{"name": "only", "ranges": "10.0.0.1-10.0.0.30"}]))
    router_id = add_router(sim)
    small = dataclasses.replace(settings, batch_size=10)
    assert run_import(engine, small, router_id).status == "succeeded"
    before = pool_dump(engine, "only")
    sim.set_menu("/ip/pool/used", [{"pool": "only", "address": "10.0.0.29", "owner": "c", "info": "z"}])
    seen: list[int] = []

    def on_progress(pools_done: int, pools_total: int, addresses_done: int, addresses_total: int) -> None:
        seen.append(addresses_done)

    def should_stop() -> str | None:
        return "cancelled by operator" if seen and seen[-1] > 0 else None

    result = run_import(engine, small, router_id, on_progress=on_progress, should_stop=should_stop)
    assert (result.status, result.pools["imported"]) == ("failed", 0)
    assert seen == [0, 30]
    assert pool_dump(engine, "only") == before


def test_stop_before_the_first_pool(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    result = run_import(engine, settings, add_router(sim), should_stop=lambda: "cancelled by operator")
    assert result.status == "failed"
    assert result.errors == [{"pool": None, "message": "cancelled by operator"}]
    assert dump(engine) == {"ip_pools": [], "pool_addresses": []}


# -- connections -----------------------------------------------------------------------------------------


def test_a_fresh_connection_per_import_closed_after(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    for expected in (1, 2):
        assert run_import(engine, settings, router_id).status == "succeeded"
        assert sim.connections_served == expected
        assert_all_closed(sim)
    sim.faults.drop_after_rows = 1
    assert run_import(engine, settings, router_id).status == "failed"
    assert sim.connections_served == 3
    assert_all_closed(sim)


def test_missing_router_is_a_lookup_error(engine: Engine, settings: Settings) -> None:
    with pytest.raises(LookupError, match="router 999"):
        run_import(engine, settings, 999)


def test_result_dict_has_the_documented_shape(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    data = run_import(engine, settings, add_router(sim)).to_dict()
    assert {"status", "router", "pools", "addresses", "errors", "warnings"} <= set(data)
    assert "details" not in data
    assert data["router"] == "r1"
    assert set(data["pools"]) == {"total", "imported", "failed", "stale"}
    assert set(data["addresses"]) == {"added", "updated", "stale", "total"}
