"""Property: whatever a router's pool table holds, the pools that fail are exactly the bad ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.imports.kinds import run_import
from poolimport.core.imports.pools.snapshot import NUL, NUL_SHOWN_AS
from poolimport.core.queries import pool_rows
from poolimport.sim import SimServer
from tests.conftest import ADMIN, router_config

BAD_IPV4 = ["", "not-a-range", "10.0.0.300", "10.0.0.1-", "1.2.3.4/33", "10.0.0.9-10.0.0.1,x", "-", ","]
BAD_IPV6 = [("2001:db8::/120", "119"), ("2001:db8::/120", "abc"), ("zz::/64", "64"), ("2001:db8::", "128")]

HOSTILE_NAMES = ["007", "true", "yes", "1e3", "[bold]x", "y[/oops]", "\x1b[2J", "a\x00", "a" + NUL_SHOWN_AS]
names = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12) | st.sampled_from(
    HOSTILE_NAMES
)


@dataclass
class Pool:
    family: int
    name: str
    ranges: str
    prefix_length: str
    total: int | None  # None: malformed, the pool must fail

    def row(self) -> dict[str, str]:
        if self.family == 4:
            return {"name": self.name, "ranges": self.ranges}
        return {"name": self.name, "prefix": self.ranges, "prefix-length": self.prefix_length}


@st.composite
def pools(draw: st.DrawFn) -> Pool:
    family = draw(st.sampled_from([4, 6]))
    name = draw(names)
    if draw(st.integers(0, 3)) == 0:  # a quarter malformed
        if family == 4:
            return Pool(4, name, draw(st.sampled_from(BAD_IPV4)), "", None)
        prefix, length = draw(st.sampled_from(BAD_IPV6))
        return Pool(6, name, prefix, length, None)
    if draw(st.integers(0, 9)) == 0:  # now and then one far too large to expand
        return Pool(4, name, "0.0.0.0/1", "", 2**31) if family == 4 else Pool(6, name, "::/0", "128", 2**128)
    block = draw(st.integers(0, 255))
    if family == 4:
        first, count = draw(st.integers(1, 200)), draw(st.integers(1, 40))
        return Pool(4, name, f"10.9.{block}.{first}-10.9.{block}.{first + count - 1}", "", count)
    length = draw(st.integers(120, 128))
    return Pool(6, name, f"2001:db8:{block:x}::/120", str(length), 2 ** (length - 120))


def expected_failures(table: list[Pool]) -> tuple[int, dict[tuple[int, str], int]]:
    """An oracle written apart from the code: (how many must fail, the stored size of every good pool)."""
    failures, good, seen = 0, {}, set()
    for pool in table:
        key = (pool.family, pool.name.replace(NUL, NUL_SHOWN_AS))
        if not pool.name or key in seen or pool.total is None:
            failures += 1
        else:
            good[key] = pool.total
        seen.add(key)
    return failures, good


@pytest.fixture
def one_router(
    sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> tuple[SimServer, int]:
    """Function-scoped fixtures live across Hypothesis' examples: one router, its table set per example."""
    sim = sim_factory(router_config())
    return sim, add_router(sim)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.lists(pools(), max_size=8))
def test_only_bad_pools_fail(
    table: list[Pool], engine: Engine, settings: Settings, one_router: tuple[SimServer, int]
) -> None:
    sim, router_id = one_router
    sim.set_menu("/ip/pool", [p.row() for p in table if p.family == 4])
    sim.set_menu("/ipv6/pool", [p.row() for p in table if p.family == 6])
    sim.set_menu("/ip/pool/used", [])
    sim.set_menu("/ipv6/pool/used", [])
    failures, good = expected_failures(table)

    result = run_import(engine, settings, router_id)

    assert result.pools["total"] == len(table)
    assert result.pools["failed"] == failures, result.errors
    assert result.pools["imported"] == len(good)
    if failures == 0:
        assert result.status == "succeeded"
    else:
        assert result.status == ("failed" if not good else "partial")
    with session_scope(engine) as session:
        stored = {(row["family"], row["name"]): row for row in pool_rows(session, ADMIN, router_id)}
    for key, total in good.items():
        assert stored[key]["total"] == total
        assert stored[key]["status"] == "active"
        assert stored[key]["expanded"] == (total <= settings.max_addresses_per_pool)
