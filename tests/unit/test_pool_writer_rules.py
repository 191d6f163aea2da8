"""poolimport.core.imports.pools.writer: the merge of one pool into the database, on a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from poolimport.core.imports.pools.ranges import (
    ipv4_from_str,
    ipv6_from_str,
    parse_ipv4_ranges,
    parse_ipv6_pool,
)
from poolimport.core.imports.pools.snapshot import PoolSpec
from poolimport.core.imports.pools.writer import PoolChange, PoolWriter, mark_missing_pools_stale, used_rows
from poolimport.core.models import IpPool, PoolAddress, utcnow
from tests.stored import router_rows


@pytest.fixture
def router_id(engine: Engine, add_router: Callable[..., int]) -> int:
    return add_router(port=1)


def ipv4_pool(
    ranges: str, used: dict[str, str] | None = None, name: str = "p", comment: str = ""
) -> PoolSpec:
    """An IPv4 pool; `used` maps address -> owner."""
    spec = PoolSpec(name=name, family=4, ranges=ranges, prefix_length=None, next_pool=None, comment=comment)
    spec.space = parse_ipv4_ranges(ranges)
    spec.used = {ipv4_from_str(address): (owner, "") for address, owner in (used or {}).items()}
    return spec


def ipv6_pool(prefix: str, length: str, used: dict[str, str] | None = None, name: str = "v6") -> PoolSpec:
    spec = PoolSpec(name=name, family=6, ranges=prefix, prefix_length=None, next_pool=None, comment=None)
    spec.space = parse_ipv6_pool(prefix, length)
    spec.prefix_length = spec.space.prefix_length
    spec.used = {ipv6_from_str(p): (owner, "") for p, owner in (used or {}).items()}
    return spec


class Written:
    def __init__(self, change: PoolChange, progress: list[int]) -> None:
        self.change, self.progress = change, progress


def write(
    engine: Engine,
    router_id: int,
    spec: PoolSpec,
    *,
    batch_size: int = 1000,
    max_addresses: int = 10_000,
    dry_run: bool = False,
    full_walk: bool = False,
) -> Written:
    progress: list[int] = []
    with engine.begin() as conn:
        writer = PoolWriter(
            conn,
            router_id,
            batch_size=batch_size,
            max_addresses=max_addresses,
            now=utcnow(),
            dry_run=dry_run,
            on_batch=progress.append,
            full_walk=full_walk,
        )
        return Written(writer.write(spec), progress)


def rows(engine: Engine, name: str = "p", family: int = 4) -> dict[str, tuple[str, str, str | None]]:
    """address -> (sort key, status, owner), in sort-key order."""
    stmt = (
        select(PoolAddress.address, PoolAddress.sort_key, PoolAddress.status, PoolAddress.owner)
        .join(IpPool, IpPool.id == PoolAddress.pool_id)
        .where(IpPool.name == name, IpPool.family == family)
        .order_by(PoolAddress.sort_key)
    )
    with engine.connect() as conn:
        return {row.address: (row.sort_key, row.status, row.owner) for row in conn.execute(stmt)}


def pool_row(engine: Engine, name: str = "p", family: int = 4) -> Any:
    with engine.connect() as conn:
        stmt = select(IpPool.__table__).where(IpPool.name == name, IpPool.family == family)
        return conn.execute(stmt).one_or_none()


def counts(engine: Engine, name: str = "p") -> tuple[int, int, int]:
    row = pool_row(engine, name)
    return row.used_count, row.free_count, row.stale_count


def statuses(engine: Engine, name: str = "p", family: int = 4) -> list[str]:
    return [status for _, status, _ in rows(engine, name, family).values()]


# -- what is stored ------------------------------------------------------------------------------------------


def test_sort_keys_are_lowercase_fixed_width_hex(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.254-10.0.0.255"))
    write(engine, router_id, ipv6_pool("2001:db8::/124", "126"))
    assert [key for key, _, _ in rows(engine).values()] == ["0a0000fe", "0a0000ff"]
    assert list(rows(engine, "v6", 6)) == [
        "2001:db8::/126",
        "2001:db8::4/126",
        "2001:db8::8/126",
        "2001:db8::c/126",
    ]
    assert [key for key, _, _ in rows(engine, "v6", 6).values()][-1] == "20010db800000000000000000000000c"


def test_an_ipv6_pool_handed_out_whole_keeps_its_prefix_length(engine: Engine, router_id: int) -> None:
    """prefix-length equal to the prefix: one delegated prefix, the pool itself; /0 included."""
    write(engine, router_id, ipv6_pool("2001:db8::/64", "64", name="whole"))
    write(engine, router_id, ipv6_pool("::/0", "0", name="everything"))
    assert list(rows(engine, "whole", 6)) == ["2001:db8::/64"]
    assert list(rows(engine, "everything", 6)) == ["::/0"]


def test_a_used_entry_between_the_ranges_marks_no_address(engine: Engine, router_id: int) -> None:
    """The snapshot drops such entries; the writer must not mark the next address in their place either."""
    spec = ipv4_pool("10.0.0.1-10.0.0.2,10.0.0.5-10.0.0.6")
    spec.used = {ipv4_from_str("10.0.0.3"): ("ghost", "")}
    write(engine, router_id, spec)
    assert statuses(engine) == ["free"] * 4


def test_a_new_pool_counts_its_used_and_free_addresses(engine: Engine, router_id: int) -> None:
    change = write(
        engine, router_id, ipv4_pool("10.0.0.1-10.0.0.5", {"10.0.0.2": "ann", "10.0.0.4": "bo"})
    ).change
    assert (change.added, change.updated, change.stale, change.total) == (5, 0, 0, 5)
    assert (change.expanded, change.unchanged, change.new_pool) == (True, False, True)
    assert counts(engine) == (2, 3, 0)
    assert [owner for _, _, owner in rows(engine).values()] == [None, "ann", None, "bo", None]


# -- the size limit ------------------------------------------------------------------------------------------


def test_a_pool_of_exactly_the_limit_is_expanded_and_one_more_is_not(engine: Engine, router_id: int) -> None:
    at_limit = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", name="four"), max_addresses=4).change
    over = write(
        engine, router_id, ipv4_pool("10.0.0.1-10.0.0.5", {"10.0.0.1": "ann"}, name="five"), max_addresses=4
    ).change
    assert (at_limit.expanded, len(rows(engine, "four"))) == (True, 4)
    assert (over.expanded, over.added, over.total, len(rows(engine, "five"))) == (False, 0, 5, 0)
    assert pool_row(engine, "five").expanded is False
    assert counts(engine, "five") == (0, 0, 0)


def test_a_pool_that_outgrows_the_limit_leaves_its_addresses_stale(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.1": "ann"}), max_addresses=4)
    change = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.8"), max_addresses=4).change
    assert (change.expanded, change.stale, change.added) == (False, 4, 0)
    assert statuses(engine) == ["stale"] * 4
    assert counts(engine) == (0, 0, 4)


# -- re-imports ----------------------------------------------------------------------------------------------


def test_an_unchanged_pool_reports_its_size_as_progress_once(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.6"), batch_size=4)
    write(engine, router_id, ipv4_pool("10.0.0.0/24", name="big"), max_addresses=100)
    again = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.6"), batch_size=4)
    big_again = write(engine, router_id, ipv4_pool("10.0.0.0/24", name="big"), max_addresses=100)
    assert (again.change.unchanged, again.progress) == (True, [6])
    assert (big_again.change.unchanged, big_again.progress) == (True, [0])
    assert (big_again.change.expanded, big_again.change.new_pool) == (False, False)


def test_a_written_pool_reports_each_batch_as_progress(engine: Engine, router_id: int) -> None:
    assert write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.6"), batch_size=4).progress == [4, 2]


def test_changed_owners_are_counted_across_batches(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.6"), batch_size=2)
    used = {"10.0.0.1": "a", "10.0.0.3": "b", "10.0.0.5": "c"}
    change = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.6", used), batch_size=2).change
    assert (change.updated, change.added, change.stale) == (3, 0, 0)
    assert counts(engine) == (3, 3, 0)


def test_counts_follow_the_addresses_when_a_pool_changes(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.3", {"10.0.0.1": "a", "10.0.0.2": "b"}))
    write(
        engine,
        router_id,
        ipv4_pool("10.0.0.1-10.0.0.3", {n: "x" for n in ("10.0.0.1", "10.0.0.2", "10.0.0.3")}),
    )
    assert counts(engine) == (3, 0, 0)
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.3"))
    assert counts(engine) == (0, 3, 0)


def test_addresses_already_stale_are_not_counted_stale_again(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.10"))
    gap_and_tail = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.2,10.0.0.5-10.0.0.6")).change
    assert gap_and_tail.stale == 6  # .3 .4 inside the ranges' span, .7-.10 past its end
    again = write(
        engine, router_id, ipv4_pool("10.0.0.1-10.0.0.2,10.0.0.5-10.0.0.6", comment="changed")
    ).change
    assert (again.unchanged, again.stale, again.updated, again.added) == (False, 0, 0, 0)
    assert counts(engine) == (0, 4, 6)


def test_every_address_of_a_shrunken_pool_is_stale_however_many(engine: Engine, router_id: int) -> None:
    """Stale rows are marked in chunks: more than two chunks' worth must all be marked."""
    write(engine, router_id, ipv4_pool("10.0.0.0-10.0.4.255"), batch_size=20_000)
    change = write(engine, router_id, ipv4_pool("10.0.0.0")).change
    assert change.stale == 1279
    assert statuses(engine).count("stale") == 1279
    assert counts(engine) == (0, 1, 1279)


# -- re-imports where only used entries changed ----------------------------------------------------------


@contextmanager
def address_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent that touch the address table, as they run."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "pool_addresses" in statement:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_used_change_in_unchanged_ranges_reads_no_batch_of_the_pool(
    any_engine: Engine, any_add_router: Callable[..., int]
) -> None:
    """Forty batches of addresses, three changed: the re-import sends the same few statements whatever
    the pool's size, where walking it sends one per batch."""
    engine, router_id = any_engine, any_add_router(port=1)
    write(engine, router_id, ipv4_pool("10.0.0.0-10.0.15.159", {"10.0.0.1": "a", "10.0.0.2": "b"}))
    used = {"10.0.0.2": "b2", "10.0.9.9": "c"}  # a freed, b's owner changed, c newly used
    with address_statements(engine) as sent:
        again = write(engine, router_id, ipv4_pool("10.0.0.0-10.0.15.159", used), batch_size=100)
    assert (again.change.updated, again.change.added, again.change.stale) == (3, 0, 0)
    assert again.progress == [4000]
    assert len(sent) <= 3, sent
    with address_statements(engine) as walked:
        write(engine, router_id, ipv4_pool("10.0.0.0-10.0.15.159"), batch_size=100, full_walk=True)
    assert len(walked) >= 40
    assert rows(engine)["10.0.9.9"][1:] == ("free", None)


def test_only_changed_used_entries_are_written_and_counted(engine: Engine, router_id: int) -> None:
    write(
        engine, router_id, ipv4_pool("10.0.0.1-10.0.0.8", {"10.0.0.1": "a", "10.0.0.2": "b", "10.0.0.3": "c"})
    )
    spec = ipv4_pool("10.0.0.1-10.0.0.8", {"10.0.0.1": "a", "10.0.0.3": "c", "10.0.0.8": "d"})
    spec.used[ipv4_from_str("10.0.0.3")] = ("c", "new info")
    change = write(engine, router_id, spec).change
    assert (change.added, change.updated, change.stale, change.unchanged, change.new_pool) == (
        0,
        3,
        0,
        False,
        False,
    )
    assert [(status, owner) for _, status, owner in rows(engine).values()] == [
        ("used", "a"),
        ("free", None),
        ("used", "c"),
        *[("free", None)] * 4,
        ("used", "d"),
    ]
    assert counts(engine) == (3, 5, 0)


def test_stale_addresses_outside_unchanged_ranges_stay_stale_and_uncounted(
    engine: Engine, router_id: int
) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.8", {"10.0.0.8": "gone"}))
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4"))  # .5-.8 stale, .8 with its last owner
    change = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.4": "new"})).change
    assert (change.updated, change.stale) == (1, 0)
    assert statuses(engine) == ["free", "free", "free", "used", "stale", "stale", "stale", "stale"]
    assert counts(engine) == (1, 3, 4)


def test_a_pool_whose_rows_differ_from_its_ranges_is_walked_in_full(
    any_engine: Engine, any_add_router: Callable[..., int]
) -> None:
    """Rows deleted or marked stale behind the importer's back: a newly used address has no free row to
    take, so the pool is merged address by address, and stored and counted as a merge from the start
    would (its twin, merged in full, says how). The check counts the rows each update matched: on
    PostgreSQL too."""
    engine = any_engine
    twins = {
        "changes": any_add_router(name="changes", port=1),
        "merged": any_add_router(name="merged", port=1),
    }
    tampered = "SELECT id FROM ip_pools WHERE router_id = :r"
    for router_id in twins.values():
        write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.4": "d"}))
        with engine.begin() as conn:
            pool_id = conn.scalar(text(tampered), {"r": router_id})
            where = "pool_id = :p AND address = :a"
            conn.execute(text(f"DELETE FROM pool_addresses WHERE {where}"), {"p": pool_id, "a": "10.0.0.2"})
            conn.execute(
                text(f"UPDATE pool_addresses SET status = 'stale' WHERE {where}"),
                {"p": pool_id, "a": "10.0.0.3"},
            )
    spec = {"10.0.0.1": "a", "10.0.0.2": "b"}  # .1 has its free row, .2 none; .4 freed
    change = write(engine, twins["changes"], ipv4_pool("10.0.0.1-10.0.0.4", spec)).change
    merged = write(engine, twins["merged"], ipv4_pool("10.0.0.1-10.0.0.4", spec), full_walk=True).change
    assert change == merged
    assert (change.added, change.updated, change.stale) == (1, 3, 0)
    stored = router_rows(engine, twins["changes"])
    assert stored == router_rows(engine, twins["merged"])
    assert [row[4:6] for row in stored["pool_addresses"]] == [
        ("used", "a"),
        ("used", "b"),
        ("free", None),
        ("free", None),
    ]
    assert stored["ip_pools"][0][-3:] == (2, 2, 0)  # used, free and stale counts


def test_a_dry_run_of_a_used_change_reports_it_and_writes_nothing(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.1": "a"}))
    before = (rows(engine), pool_row(engine))
    change = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.2": "b"}), dry_run=True).change
    assert (change.added, change.updated, change.stale) == (0, 2, 0)
    assert (rows(engine), pool_row(engine)) == before


def test_a_pool_back_from_stale_or_from_over_the_limit_is_walked(engine: Engine, router_id: int) -> None:
    """Same ranges, but its rows were all marked stale: they come back, not only the used ones."""
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.1": "a"}))
    with engine.begin() as conn:
        mark_missing_pools_stale(conn, router_id, {4}, set(), dry_run=False)
    back = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.2": "b"})).change
    assert (back.updated, back.stale) == (4, 0)
    assert statuses(engine) == ["free", "used", "free", "free"]
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4"), max_addresses=3)
    assert statuses(engine) == ["stale"] * 4
    under = write(
        engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.3": "c"}), max_addresses=4
    ).change
    assert (under.updated, under.expanded) == (4, True)
    assert statuses(engine) == ["free", "free", "used", "free"]
    assert counts(engine) == (1, 3, 0)


def test_a_pools_used_rows_are_read_through_their_index(engine: Engine, router_id: int) -> None:
    """Not by going through the pool's free rows: the few used ones have an index of their own."""
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.1": "a"}))
    statement = used_rows(pool_row(engine).id).compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}"))
    assert "ix_pool_addresses_used" in plan, plan


# -- dry runs ------------------------------------------------------------------------------------------------


def test_a_dry_run_of_a_new_pool_writes_nothing_and_reports_everything(
    engine: Engine, router_id: int
) -> None:
    result = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.1": "a"}), dry_run=True)
    assert (result.change.added, result.change.new_pool, result.progress) == (4, True, [4])
    assert pool_row(engine) is None
    assert rows(engine) == {}


def test_a_dry_run_of_a_changed_pool_writes_nothing(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4"))
    before = (rows(engine), pool_row(engine))
    change = write(engine, router_id, ipv4_pool("10.0.0.2-10.0.0.5", {"10.0.0.2": "a"}), dry_run=True).change
    assert (change.added, change.updated, change.stale) == (1, 1, 1)
    assert (rows(engine), pool_row(engine)) == before


def test_a_dry_run_of_an_outgrown_pool_writes_nothing(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4"), max_addresses=4)
    change = write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.8"), max_addresses=4, dry_run=True).change
    assert change.stale == 4
    assert statuses(engine) == ["free"] * 4


# -- pools the router no longer has --------------------------------------------------------------------------


def test_pools_gone_from_the_router_become_stale_with_their_live_addresses(
    engine: Engine, router_id: int
) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4", {"10.0.0.1": "a"}, name="a"))
    write(engine, router_id, ipv4_pool("10.0.1.1-10.0.1.6", name="b"))
    write(engine, router_id, ipv4_pool("10.0.1.1-10.0.1.3", name="b"))  # 3 of b's 6 already stale
    write(engine, router_id, ipv4_pool("10.0.2.1-10.0.2.2", name="kept"))
    write(engine, router_id, ipv6_pool("2001:db8::/126", "128", name="a"))  # same name, other family
    with engine.begin() as conn:
        gone = mark_missing_pools_stale(conn, router_id, {4}, {(4, "kept")}, dry_run=False)
    assert gone == (2, 7)  # a: 4, b: 3 (not its 3 stale ones again)
    assert (pool_row(engine, "a").status, pool_row(engine, "b").status) == ("stale", "stale")
    assert pool_row(engine, "kept").status == "active"
    assert pool_row(engine, "a").fingerprint is None
    assert statuses(engine, "a") == ["stale"] * 4 and statuses(engine, "b") == ["stale"] * 6
    assert (counts(engine, "a"), counts(engine, "b"), counts(engine, "kept")) == (
        (0, 0, 4),
        (0, 0, 6),
        (0, 2, 0),
    )
    assert pool_row(engine, "a", 6).status == "active"  # the IPv6 "a" is another pool
    assert statuses(engine, "a", 6) == ["free"] * 4


def test_a_gone_pool_without_addresses_counts_none(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.0/24", name="big"), max_addresses=10)
    with engine.begin() as conn:
        assert mark_missing_pools_stale(conn, router_id, {4}, set(), dry_run=False) == (1, 0)
    assert pool_row(engine, "big").status == "stale"


def test_a_gone_pool_in_a_dry_run_is_reported_and_kept(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4"))
    with engine.begin() as conn:
        assert mark_missing_pools_stale(conn, router_id, {4}, set(), dry_run=True) == (1, 4)
    assert pool_row(engine).status == "active" and statuses(engine) == ["free"] * 4


def test_nothing_is_gone_when_every_pool_is_present(engine: Engine, router_id: int) -> None:
    write(engine, router_id, ipv4_pool("10.0.0.1-10.0.0.4"))
    with engine.begin() as conn:
        assert mark_missing_pools_stale(conn, router_id, {4}, {(4, "p")}, dry_run=False) == (0, 0)
