"""core.imports.pools.snapshot: what a router's pool menus become, read from the simulator over a socket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from poolimport.core.imports.pools.ranges import ipv4_from_str, ipv6_from_str
from poolimport.core.imports.pools.snapshot import PoolSpec, RouterSnapshot, read_snapshot
from poolimport.core.routers.api import RouterClient, RouterTarget
from poolimport.sim import SimServer
from tests.conftest import PASSWORD
from tests.integration.test_importer import menus

Read = Callable[..., RouterSnapshot]


@pytest.fixture
def read(sim_factory: Callable[..., SimServer]) -> Read:
    """read(ip=[...], ip_used=[...], ipv6=[...], ipv6_used=[...], encoding=...) -> the router's snapshot."""

    def read_router(encoding: str = "utf-8", **rows: list[dict[str, str]]) -> RouterSnapshot:
        config: dict[str, Any] = menus(**rows)
        config["encoding"] = encoding
        sim = sim_factory(config)
        target = RouterTarget(host="127.0.0.1", port=sim.port, username="admin", password=PASSWORD, timeout=3)
        with RouterClient(target) as client:
            return read_snapshot(client)

    return read_router


def by_name(snapshot: RouterSnapshot) -> dict[str, PoolSpec]:
    return {spec.name: spec for spec in snapshot.pools}


POOL = {"name": "p", "ranges": "10.0.0.1-10.0.0.4"}


# -- pools ---------------------------------------------------------------------------------------------------


def test_next_pool_none_or_empty_means_no_next_pool(read: Read) -> None:
    pools = by_name(
        read(
            ip=[
                {**POOL, "name": "empty", "next-pool": ""},
                {**POOL, "name": "none", "next-pool": "none"},
                {**POOL, "name": "absent"},
                {**POOL, "name": "chained", "next-pool": "none-left"},
            ]
        )
    )
    assert [pools[name].next_pool for name in ("empty", "none", "absent", "chained")] == [
        None,
        None,
        None,
        "none-left",
    ]


@pytest.mark.parametrize(("menu", "kind"), [("ip", "IPv4"), ("ipv6", "IPv6")])
def test_a_pool_without_a_name_fails_under_a_name_of_its_own(read: Read, menu: str, kind: str) -> None:
    row = {".id": "*7", "ranges": "10.0.0.1", "prefix": "2001:db8::/64", "prefix-length": "64"}
    [spec] = read(**{menu: [row]}).pools
    assert spec.name == f"<unnamed {kind} pool *7>"
    assert spec.error == "the router sent a pool without a name"


def test_a_pool_without_ranges_fails_alone_naming_the_empty_ranges(read: Read) -> None:
    pools = by_name(read(ip=[{"name": "bare"}, POOL]))
    assert pools["bare"].error == "empty ranges ''"
    assert (pools["bare"].ranges, pools["bare"].space) == ("", None)
    assert pools["p"].error is None and pools["p"].total == 4


def test_an_ipv6_pool_keeps_its_comment_and_prefix_length(read: Read) -> None:
    [spec] = read(
        ipv6=[{"name": "v6", "prefix": "2001:db8::/120", "prefix-length": "124", "comment": "hi"}]
    ).pools
    assert (spec.family, spec.ranges, spec.prefix_length, spec.comment) == (6, "2001:db8::/120", 124, "hi")
    assert (spec.next_pool, spec.total, spec.error) == (None, 16, None)


def test_an_ipv6_pool_without_prefix_or_prefix_length_fails_alone(read: Read) -> None:
    pools = by_name(
        read(
            ipv6=[
                {"name": "no-prefix", "prefix-length": "64"},
                {"name": "no-length", "prefix": "2001:db8::/48"},
                {"name": "fine", "prefix": "2001:db8::/126", "prefix-length": "128"},
            ]
        )
    )
    assert pools["no-prefix"].error == "missing prefix length in IPv6 prefix ''"
    assert pools["no-prefix"].ranges == ""
    assert pools["no-length"].error == "bad prefix-length ''"
    assert (pools["fine"].error, pools["fine"].prefix_length) == (None, 128)


def test_a_router_without_ipv6_reads_its_ipv4_pools_and_says_ipv6_was_skipped(
    sim_factory: Callable[..., SimServer],
) -> None:
    config = menus(ip=[POOL])
    for path in ("/ipv6/pool", "/ipv6/pool/used"):
        del config["menus"][path]
    sim = sim_factory(config)
    target = RouterTarget(host="127.0.0.1", port=sim.port, username="admin", password=PASSWORD, timeout=3)
    with RouterClient(target) as client:
        snapshot = read_snapshot(client)
    assert ([spec.name for spec in snapshot.pools], snapshot.families_read) == (["p"], {4})
    assert snapshot.warnings == ["router has no /ipv6/pool menu (IPv6 disabled?): IPv6 pools skipped"]


# -- used entries --------------------------------------------------------------------------------------------


def test_used_entries_of_unknown_pools_are_passed_over_without_stopping(read: Read) -> None:
    snapshot = read(
        ip=[POOL],
        ip_used=[
            {"address": "10.0.0.1", "owner": "no pool"},
            {"pool": "elsewhere", "address": "10.0.0.2", "owner": "x"},
            {"pool": "p", "address": "10.0.0.3", "owner": "ann", "info": "ppp"},
        ],
    )
    assert by_name(snapshot)["p"].used == {ipv4_from_str("10.0.0.3"): ("ann", "ppp")}
    assert snapshot.warnings == []


def test_used_entries_that_are_not_addresses_of_the_pool_are_counted_once_each(read: Read) -> None:
    snapshot = read(
        ip=[POOL, {"name": "q", "ranges": "10.0.1.1"}],
        ip_used=[
            {"pool": "p", "owner": "no address"},
            {"pool": "p", "address": "10.0.9.9", "owner": "outside"},
            {"pool": "p", "address": "10.0.0.2", "owner": "ann"},
            {"pool": "p", "address": "not-an-address", "owner": "typo"},
            {"pool": "q", "address": "10.0.1.2", "owner": "outside"},
            {"pool": "p", "address": "10.0.0.4"},
        ],
    )
    assert by_name(snapshot)["p"].used == {
        ipv4_from_str("10.0.0.2"): ("ann", ""),
        ipv4_from_str("10.0.0.4"): ("", ""),
    }
    assert snapshot.warnings == [
        "pool p: 3 used entries are not addresses of the pool; ignored",
        "pool q: 1 used entries are not addresses of the pool; ignored",
    ]


def test_ipv6_used_entries_are_read_by_prefix(read: Read) -> None:
    snapshot = read(
        ipv6=[{"name": "v6", "prefix": "2001:db8::/120", "prefix-length": "124"}],
        ipv6_used=[{"pool": "v6", "prefix": "2001:db8::10/124", "owner": "cpe"}],
    )
    assert by_name(snapshot)["v6"].used == {ipv6_from_str("2001:db8::10"): ("cpe", "")}


# -- text the database can't hold or the router's encoding can't say -----------------------------------------


def test_nul_characters_are_one_warning_per_pool_naming_every_field(read: Read) -> None:
    snapshot = read(
        ip=[{**POOL, "comment": "a\x00b", "next-pool": "n\x00"}],
        ip_used=[
            {"pool": "p", "address": "10.0.0.1", "owner": "o\x00"},
            {"pool": "p", "address": "10.0.0.2", "owner": "o\x00", "info": "i\x00"},
        ],
    )
    spec = by_name(snapshot)["p"]
    assert (spec.comment, spec.next_pool) == ("a\u2400b", "n\u2400")
    assert spec.warnings == ["pool p: NUL characters in comment,next-pool; stored and shown as \u2400"]
    assert snapshot.warnings == [
        "pool p: used entries: NUL characters in info,owner; stored and shown as \u2400"
    ]


def test_undecodable_bytes_are_one_warning_naming_every_field(read: Read) -> None:
    snapshot = read(encoding="latin-1", ip=[{**POOL, "comment": "Zürich", "next-pool": "café"}])
    assert by_name(snapshot)["p"].warnings == [
        "pool p: bytes in comment,next-pool are not valid in the router's encoding; shown as U+FFFD"
    ]
