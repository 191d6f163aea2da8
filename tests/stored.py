"""What an import stored, read back from the database for tests to compare."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Row, func, select, text

from poolimport.core.models import IpPool, PoolAddress

Dump = dict[str, list[tuple[Any, ...]]]


def dump(engine: Engine, skip: tuple[str, ...] = ("last_seen",)) -> Dump:
    """Every row of the tables an import writes, as raw SQLite values, minus the columns in `skip`."""
    tables: Dump = {}
    with engine.connect() as conn:
        for table in ("ip_pools", "pool_addresses"):
            columns = [
                row[1] for row in conn.execute(text(f"PRAGMA table_info({table})")) if row[1] not in skip
            ]
            query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"
            tables[table] = [tuple(row) for row in conn.exec_driver_sql(query)]
    return tables


def router_rows(engine: Engine, router_id: int) -> Dump:
    """A router's pools and their addresses on any database, ordered by what they are (family, name, sort
    key) rather than by id, without the columns that differ between two routers holding the same data."""
    pool_columns = [
        c for c in IpPool.__table__.c if c.name not in ("id", "router_id", "first_seen", "last_seen")
    ]
    pool_stmt = (
        select(*pool_columns).where(IpPool.router_id == router_id).order_by(IpPool.family, IpPool.name)
    )
    address_stmt = (
        select(
            IpPool.family,
            IpPool.name,
            PoolAddress.sort_key,
            PoolAddress.address,
            PoolAddress.status,
            PoolAddress.owner,
            PoolAddress.info,
        )
        .join(IpPool, IpPool.id == PoolAddress.pool_id)
        .where(IpPool.router_id == router_id)
        .order_by(IpPool.family, IpPool.name, PoolAddress.sort_key)
    )
    with engine.connect() as conn:
        return {
            "ip_pools": [tuple(row) for row in conn.execute(pool_stmt)],
            "pool_addresses": [tuple(row) for row in conn.execute(address_stmt)],
        }


def pools(engine: Engine) -> dict[str, Row[Any]]:
    with engine.connect() as conn:
        return {row.name: row for row in conn.execute(select(IpPool.__table__))}


def addresses(engine: Engine, pool: str) -> dict[str, tuple[str, str | None, str | None]]:
    stmt = (
        select(PoolAddress.address, PoolAddress.status, PoolAddress.owner, PoolAddress.info)
        .join(IpPool, IpPool.id == PoolAddress.pool_id)
        .where(IpPool.name == pool)
        .order_by(PoolAddress.sort_key)
    )
    with engine.connect() as conn:
        return {row.address: (row.status, row.owner, row.info) for row in conn.execute(stmt)}


def statuses(engine: Engine, pool: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status, _owner, _info in addresses(engine, pool).values():
        counts[status] = counts.get(status, 0) + 1
    return counts


def stored_address_count(engine: Engine) -> int:
    """Address rows of every pool of every router."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(PoolAddress)) or 0)
