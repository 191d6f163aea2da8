"""Property: a re-import that writes only the changed used entries stores exactly what merging every
address stores, whatever happened to the pool before (leases taken, freed or changed, ranges moved, the
pool gone and back, over the size limit and back, dry runs)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from poolimport.core.imports.pools.ranges import parse_ipv4_ranges, parse_ipv6_pool
from poolimport.core.imports.pools.snapshot import Holder, PoolSpec
from poolimport.core.imports.pools.writer import PoolChange, PoolWriter, mark_missing_pools_stale
from poolimport.core.models import IpPool, utcnow
from tests.stored import router_rows

BATCH = 7  # several batches in a pool of a few dozen addresses
LIMIT = 10_000
# Mostly one prefix, so that a new layout is often the same prefix cut into prefixes of another length.
IPV6_PREFIXES = ["2001:db8::/122", "2001:db8::/122", "2001:db8::/123", "2001:db8::20/123"]
TEXTS = st.sampled_from(["", "ann", "bo", "007", "yes", "é ü"])


@dataclass
class Pool:
    """What the router says about its one pool, changed step by step."""

    family: int
    ranges: str
    prefix_length: int | None
    comment: str | None = None
    used: dict[int, Holder] = field(default_factory=dict)

    def spec(self) -> PoolSpec:
        spec = PoolSpec(
            name="p",
            family=self.family,
            ranges=self.ranges,
            prefix_length=self.prefix_length,
            next_pool=None,
            comment=self.comment,
        )
        if self.family == 4:
            spec.space = parse_ipv4_ranges(self.ranges)
        else:
            assert self.prefix_length is not None
            spec.space = parse_ipv6_pool(self.ranges, self.prefix_length)
        spec.used = dict(self.used)
        return spec

    def addresses(self) -> list[int]:
        space = self.spec().space
        assert space is not None
        return list(space)


def ipv4_ranges() -> st.SearchStrategy[str]:
    """One to three ranges of 10.9.0.0/26, overlapping or not."""
    part = st.tuples(st.integers(0, 63), st.integers(0, 20)).map(
        lambda p: f"10.9.0.{p[0]}-10.9.0.{min(p[0] + p[1], 63)}"
    )
    return st.lists(part, min_size=1, max_size=3).map(",".join)


def layouts(family: int) -> st.SearchStrategy[tuple[str, int | None]]:
    if family == 4:
        return ipv4_ranges().map(lambda ranges: (ranges, None))
    return st.tuples(st.sampled_from(IPV6_PREFIXES), st.integers(124, 128))


# A step: (what, a position among the addresses or the used ones, an owner or info text, a layout)
STEPS = st.sampled_from(
    ["take", "take", "take", "free", "owner", "info", "ranges", "comment", "gone", "limit"]
)


@dataclass
class Step:
    what: str
    position: int
    text: str
    layout: tuple[str, int | None]
    dry_run: bool


@st.composite
def histories(draw: st.DrawFn) -> tuple[Pool, list[Step]]:
    family = draw(st.sampled_from([4, 6]))
    ranges, prefix_length = draw(layouts(family))
    steps = [
        Step(
            what=draw(STEPS),
            position=draw(st.integers(0, 1000)),
            text=draw(TEXTS),
            layout=draw(layouts(family)),
            dry_run=draw(st.integers(0, 9)) == 0,
        )
        for _ in range(draw(st.integers(1, 12)))
    ]
    return Pool(family, ranges, prefix_length), steps


def apply(pool: Pool, step: Step) -> None:
    """The router's side of a step."""
    used = sorted(pool.used)
    if step.what == "take":
        addresses = pool.addresses()
        pool.used[addresses[step.position % len(addresses)]] = (step.text, f"i{step.position % 3}")
    elif step.what in ("free", "owner", "info") and used:
        address = used[step.position % len(used)]
        owner, info = pool.used[address]
        if step.what == "free":
            del pool.used[address]
        elif step.what == "owner":
            pool.used[address] = (step.text, info)
        else:
            pool.used[address] = (owner, step.text)
    elif step.what == "ranges":
        pool.ranges, pool.prefix_length = step.layout
        space = pool.spec().space
        pool.used = {address: holder for address, holder in pool.used.items() if address in space}
    elif step.what == "comment":
        pool.comment = step.text


def write(engine: Engine, router_id: int, spec: PoolSpec, step: Step, full_walk: bool) -> PoolChange:
    limit = spec.total - 1 if step.what == "limit" else LIMIT
    with engine.begin() as conn:
        writer = PoolWriter(
            conn,
            router_id,
            batch_size=BATCH,
            max_addresses=limit,
            now=utcnow(),
            dry_run=step.dry_run,
            on_batch=lambda count: None,
            full_walk=full_walk,
        )
        change = writer.write(spec)
        if step.dry_run:
            conn.rollback()
        return change


@pytest.fixture
def two_routers(any_engine: Engine, any_add_router: Callable[..., int]) -> tuple[int, int]:
    """Function-scoped fixtures live across Hypothesis' examples: each example empties both routers."""
    return any_add_router(name="incremental", port=1), any_add_router(name="walked", port=2)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories())
def test_writing_used_changes_alone_stores_what_a_full_merge_stores(
    history: tuple[Pool, list[Step]], any_engine: Engine, two_routers: tuple[int, int]
) -> None:
    pool, steps = copy.deepcopy(history)  # Hypothesis shows the history as drawn when one fails
    incremental, walked = two_routers
    with any_engine.begin() as conn:
        conn.execute(delete(IpPool).where(IpPool.router_id.in_(two_routers)))
    first = Step("first", 0, "", (pool.ranges, pool.prefix_length), dry_run=False)
    for step in [first, *steps]:
        apply(pool, step)
        if step.what == "gone":
            for router_id in two_routers:
                with any_engine.begin() as conn:
                    mark_missing_pools_stale(conn, router_id, {pool.family}, set(), step.dry_run)
        else:
            by_changes = write(any_engine, incremental, pool.spec(), step, full_walk=False)
            by_merge = write(any_engine, walked, pool.spec(), step, full_walk=True)
            assert by_changes == by_merge, step
        assert router_rows(any_engine, incremental) == router_rows(any_engine, walked), step
