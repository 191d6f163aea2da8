"""Write one pool's addresses: a sorted merge of the router's expansion against stored rows, in batches.

The expansion and the stored rows are both ordered by sort key, so each batch reads only the stored
rows in its own key span: memory stays bounded by the batch size, whatever the pool's size.

A pool whose ranges are as stored has a row for each of its addresses, free unless used: there only the
used entries can differ, and the writer compares the router's with the stored used rows alone (an index
holds them), however large the pool.
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, func, insert, select, text, update

from poolimport.core.imports.pools.bulk import (
    AddressRow,
    RewriteRow,
    TakeRow,
    inserting,
    rewrite_addresses,
    take_free_addresses,
)
from poolimport.core.imports.pools.ranges import Ipv6Pool, ipv4_to_str, ipv6_prefix_to_str
from poolimport.core.imports.pools.snapshot import Holder, PoolSpec
from poolimport.core.models import USED_ROWS, IpPool, PoolAddress
from poolimport.core.statuses import AddressStatus, PoolStatus

ADDRESSES = cast(Table, PoolAddress.__table__)
POOLS = cast(Table, IpPool.__table__)
STALE_CHUNK = 500


@dataclass
class PoolChange:
    added: int = 0
    updated: int = 0
    stale: int = 0
    total: int = 0
    expanded: bool = True
    unchanged: bool = False
    new_pool: bool = False


def _formatters(spec: PoolSpec) -> tuple[Callable[[int], str], Callable[[int], str]]:
    if spec.family == 4:
        return ipv4_to_str, "{:08x}".format
    assert isinstance(spec.space, Ipv6Pool)
    length = spec.space.prefix_length  # 0 is a length too: ::/0 handed out whole
    return (lambda value: ipv6_prefix_to_str(value, length)), "{:032x}".format


def _upsert_pool(
    conn: Connection, router_id: int, spec: PoolSpec, existing_id: int | None, values: dict[str, Any]
) -> int:
    if existing_id is None:
        inserted = conn.execute(insert(POOLS).values(router_id=router_id, name=spec.name, **values))
        return int(inserted.inserted_primary_key[0])  # type: ignore[index]
    conn.execute(update(POOLS).where(POOLS.c.id == existing_id).values(**values))
    return existing_id


def _stored_rows(conn: Connection, pool_id: int, after: str | None, upto: str | None) -> dict[str, Any]:
    stmt = select(
        ADDRESSES.c.id, ADDRESSES.c.sort_key, ADDRESSES.c.status, ADDRESSES.c.owner, ADDRESSES.c.info
    ).where(ADDRESSES.c.pool_id == pool_id)
    if after is not None:
        stmt = stmt.where(ADDRESSES.c.sort_key > after)
    if upto is not None:
        stmt = stmt.where(ADDRESSES.c.sort_key <= upto)
    return {row.sort_key: row for row in conn.execute(stmt)}


def used_rows(pool_id: int) -> Select[tuple[int, str, str | None, str | None]]:
    """The pool's used rows, through ix_pool_addresses_used (whose condition this repeats word for word)."""
    return select(ADDRESSES.c.id, ADDRESSES.c.sort_key, ADDRESSES.c.owner, ADDRESSES.c.info).where(
        ADDRESSES.c.pool_id == pool_id, text(f"{ADDRESSES.name}.{USED_ROWS}")
    )


def _rows_match_ranges(stored: Any, spec: PoolSpec, expanded: bool) -> bool:
    """The stored rows are this expansion: the pool was last written, active and expanded, from the same
    ranges. (A pool back from stale, or from over the size limit, has stale rows to bring back.)"""
    return (
        expanded
        and stored.expanded
        and stored.status == PoolStatus.ACTIVE
        and stored.ranges == spec.ranges
        and stored.prefix_length == spec.prefix_length
    )


def _mark_stale(conn: Connection, ids: list[int]) -> None:
    for start in range(0, len(ids), STALE_CHUNK):
        chunk = ids[start : start + STALE_CHUNK]
        conn.execute(
            update(ADDRESSES).where(ADDRESSES.c.id.in_(chunk)).values(status=AddressStatus.STALE.value)
        )


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _new_rows(
    pool_id: int, batch: list[int], keys: list[str], to_text: Callable[[int], str], used: dict[int, Holder]
) -> list[AddressRow]:
    """The fast path of a first import: every address is new, most are free."""
    rows: list[AddressRow] = list(
        zip(
            repeat(pool_id),
            keys,
            map(to_text, batch),
            repeat(AddressStatus.FREE.value),
            repeat(None),
            repeat(None),
        )
    )
    # Used addresses are few: find each in the (sorted) batch rather than test every address.
    for value in used:
        if batch[0] <= value <= batch[-1]:
            index = bisect_left(batch, value)
            if index < len(batch) and batch[index] == value:
                owner, info = used[value]
                rows[index] = (pool_id, keys[index], rows[index][2], AddressStatus.USED.value, owner, info)
    return rows


class PoolWriter:
    """Diffs and (unless dry_run) writes one pool inside the caller's transaction."""

    def __init__(
        self,
        conn: Connection,
        router_id: int,
        *,
        batch_size: int,
        max_addresses: int,
        now: datetime,
        dry_run: bool,
        on_batch: Callable[[int], None],
        full_walk: bool = False,
    ) -> None:
        """full_walk: merge every address even where only used entries changed (the two ways store the
        same rows; a test compares them)."""
        self.conn = conn
        self.router_id = router_id
        self.batch_size = batch_size
        self.max_addresses = max_addresses
        self.now = now
        self.dry_run = dry_run
        self.on_batch = on_batch
        self.full_walk = full_walk

    def write(self, spec: PoolSpec) -> PoolChange:
        assert spec.space is not None
        # FOR UPDATE (PostgreSQL; SQLite's write lock already serialises): a job that was declared stalled
        # but is still alive must not merge the same pool at the same time as its retry.
        stored = self.conn.execute(
            select(
                POOLS.c.id,
                POOLS.c.fingerprint,
                POOLS.c.status,
                POOLS.c.expanded,
                POOLS.c.ranges,
                POOLS.c.prefix_length,
            )
            .where(
                POOLS.c.router_id == self.router_id, POOLS.c.family == spec.family, POOLS.c.name == spec.name
            )
            .with_for_update()
        ).first()
        fingerprint = spec.fingerprint(self.max_addresses)
        total = spec.total
        expanded = total <= self.max_addresses
        change = PoolChange(total=total, expanded=expanded, new_pool=stored is None)
        if stored is not None and stored.fingerprint == fingerprint and stored.status == PoolStatus.ACTIVE:
            change.unchanged = True
            if not self.dry_run:
                self.conn.execute(update(POOLS).where(POOLS.c.id == stored.id).values(last_seen=self.now))
            self.on_batch(total if expanded else 0)
            return change
        pool_id = stored.id if stored is not None else None
        if not self.dry_run:
            values = {
                "family": spec.family,
                "ranges": spec.ranges,
                "prefix_length": spec.prefix_length,
                "next_pool": spec.next_pool,
                "comment": spec.comment,
                "total": total,
                "expanded": expanded,
                "fingerprint": fingerprint,
                "status": PoolStatus.ACTIVE.value,
                "last_seen": self.now,
            }
            pool_id = _upsert_pool(self.conn, self.router_id, spec, pool_id, values)
        if stored is not None and not self.full_walk and _rows_match_ranges(stored, spec, expanded):
            with _gc_paused():  # see _merge
                written = self._write_used_changes(spec, stored.id, change)
            if written:
                self.on_batch(total)
                return change
            # Not the rows the ranges say: merged in full below, as if the ranges had changed.
        has_rows = pool_id is not None and bool(
            self.conn.scalar(
                select(func.count()).select_from(ADDRESSES).where(ADDRESSES.c.pool_id == pool_id)
            )
        )
        if not expanded:
            if has_rows:
                assert pool_id is not None
                change.stale = self._stale_after(pool_id, None)
        else:
            self._merge(spec, pool_id if has_rows else None, pool_id, change)
        if pool_id is not None and not self.dry_run:
            if has_rows:
                store_counts(self.conn, [pool_id])
            else:  # every row is new: the counts are known without counting
                used = len(spec.used) if expanded else 0
                free = change.added - used
                self.conn.execute(
                    update(POOLS)
                    .where(POOLS.c.id == pool_id)
                    .values(used_count=used, free_count=free, stale_count=0)
                )
        return change

    def _write_used_changes(self, spec: PoolSpec, pool_id: int, change: PoolChange) -> bool:
        """The rows whose used state, owner or info changed, found from the stored used rows alone. False
        when a newly used address has no free row: the rows are not what the ranges say (edited behind
        the importer's back), and the pool must be merged in full."""
        _, to_key = _formatters(spec)
        used = spec.used
        before = {row.sort_key: row for row in self.conn.execute(used_rows(pool_id))}
        rewrites: list[RewriteRow] = []
        freed = 0
        for key, row in before.items():
            holder = used.get(int(key, 16))
            if holder is None:
                freed += 1
                rewrites.append((AddressStatus.FREE.value, None, None, row.id))
            elif (row.owner, row.info) != holder:
                rewrites.append((AddressStatus.USED.value, *holder, row.id))
        # In key order: neighbours in the table are written together.
        taken: list[TakeRow] = sorted(
            (owner, info, pool_id, key)
            for value, (owner, info) in used.items()
            if (key := to_key(value)) not in before
        )
        change.updated = len(rewrites) + len(taken)
        if self.dry_run or not change.updated:
            return True
        took = take_free_addresses(self.conn, taken)
        if took != len(taken):
            # Those taken are now as the full merge leaves them, which counts only the others. (Checked
            # thus, not in a savepoint: on SQLite one would copy every page it touches once more.)
            change.updated = took
            return False
        rewrite_addresses(self.conn, rewrites)
        self.conn.execute(
            update(POOLS)
            .where(POOLS.c.id == pool_id)
            .values(
                used_count=POOLS.c.used_count + (len(taken) - freed),
                free_count=POOLS.c.free_count - (len(taken) - freed),
            )
        )
        return True

    def _batches(self, spec: PoolSpec) -> Iterator[list[int]]:
        assert spec.space is not None
        return spec.space.iter_batches(self.batch_size)

    def _merge(self, spec: PoolSpec, compare_id: int | None, pool_id: int | None, change: PoolChange) -> None:
        # Batches allocate tens of thousands of tuples that all live until the batch is written; the
        # cyclic GC would walk them again and again for nothing (none of them can form a cycle).
        # A pool with no stored rows only gains rows: no other statement comes between its inserts.
        only_inserts = compare_id is None and not self.dry_run
        with _gc_paused(), inserting(self.conn, only_inserts) as insert:
            self._merge_batches(spec, compare_id, pool_id, change, insert)

    def _merge_batches(
        self,
        spec: PoolSpec,
        compare_id: int | None,
        pool_id: int | None,
        change: PoolChange,
        insert: Callable[[list[AddressRow]], None],
    ) -> None:
        to_text, to_key = _formatters(spec)
        used = spec.used
        previous_key: str | None = None
        for batch in self._batches(spec):
            keys = [to_key(value) for value in batch]
            stored = _stored_rows(self.conn, compare_id, previous_key, keys[-1]) if compare_id else {}
            inserts: list[AddressRow] = []
            updates: list[RewriteRow] = []
            if not stored:
                inserts = _new_rows(pool_id or 0, batch, keys, to_text, used)
            for value, key in zip(batch, keys, strict=True) if stored else ():
                holder = used.get(value) if used else None
                status, owner, info = (
                    (AddressStatus.USED.value, *holder) if holder else (AddressStatus.FREE.value, None, None)
                )
                row = stored.pop(key, None) if stored else None
                if row is None:
                    inserts.append((pool_id or 0, key, to_text(value), status, owner, info))
                elif (row.status, row.owner, row.info) != (status, owner, info):
                    updates.append((status, owner, info, row.id))
            stale_ids = [row.id for row in stored.values() if row.status != AddressStatus.STALE]
            change.added += len(inserts)
            change.updated += len(updates)
            change.stale += len(stale_ids)
            if not self.dry_run:
                insert(inserts)
                rewrite_addresses(self.conn, updates)
                _mark_stale(self.conn, stale_ids)
            previous_key = keys[-1]
            self.on_batch(len(batch))
        if compare_id is not None:
            change.stale += self._stale_after(compare_id, previous_key)

    def _stale_after(self, pool_id: int, after: str | None) -> int:
        stored = _stored_rows(self.conn, pool_id, after, None)
        ids = [row.id for row in stored.values() if row.status != AddressStatus.STALE]
        if not self.dry_run:
            _mark_stale(self.conn, ids)
        return len(ids)


def store_counts(conn: Connection, pool_ids: list[int]) -> None:
    """Recount the pools' addresses by status into ip_pools (an index range scan per pool)."""
    counts: dict[int, dict[str, int]] = {pool_id: {} for pool_id in pool_ids}
    stmt = (
        select(ADDRESSES.c.pool_id, ADDRESSES.c.status, func.count())
        .where(ADDRESSES.c.pool_id.in_(pool_ids))
        .group_by(ADDRESSES.c.pool_id, ADDRESSES.c.status)
    )
    for pool_id, status, count in conn.execute(stmt):
        counts[pool_id][status] = count
    for pool_id, by_status in counts.items():
        conn.execute(
            update(POOLS)
            .where(POOLS.c.id == pool_id)
            .values(
                used_count=by_status.get(AddressStatus.USED, 0),
                free_count=by_status.get(AddressStatus.FREE, 0),
                stale_count=by_status.get(AddressStatus.STALE, 0),
            )
        )


def mark_missing_pools_stale(
    conn: Connection, router_id: int, families: set[int], present: set[tuple[int, str]], dry_run: bool
) -> tuple[int, int]:
    """Pools the router no longer has become stale with their addresses; returns (pools, addresses).
    `present` holds the (family, name) of every pool the router still has."""
    rows = conn.execute(
        select(POOLS.c.id, POOLS.c.family, POOLS.c.name).where(
            POOLS.c.router_id == router_id, POOLS.c.family.in_(families), POOLS.c.status == PoolStatus.ACTIVE
        )
    ).all()
    gone = [row.id for row in rows if (row.family, row.name) not in present]
    if not gone:
        return 0, 0
    live = ADDRESSES.c.pool_id.in_(gone) & (ADDRESSES.c.status != AddressStatus.STALE)
    addresses = int(conn.scalar(select(func.count()).select_from(ADDRESSES).where(live)) or 0)
    if not dry_run:
        conn.execute(update(ADDRESSES).where(live).values(status=AddressStatus.STALE.value))
        conn.execute(
            update(POOLS).where(POOLS.c.id.in_(gone)).values(status=PoolStatus.STALE.value, fingerprint=None)
        )
        store_counts(conn, gone)
    return len(gone), addresses
