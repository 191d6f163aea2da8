"""Read models for lists: routers with totals, pools with used/free counts, addresses. Always scoped.

Lists that hold more than a screen pages through the database, so their search and order are the
query's too (`contains`, address_rows's `search` and `order`): a row beyond the first page is found."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from poolimport.core.access.tenancy import Scope
from poolimport.core.errors import InvalidInput
from poolimport.core.models import IpPool, PoolAddress, Router, Tenant
from poolimport.core.statuses import PoolStatus


class RouterRow(TypedDict):
    id: int
    name: str
    tenant: str
    host: str
    port: int
    tls: bool
    tls_verify: bool
    ca_file: str | None
    username: str
    password_needed: bool
    identity: str | None
    version: str | None
    last_status: str | None
    last_error: str | None
    last_checked_at: str | None
    pools: int
    addresses: int
    used: int


class PoolRow(TypedDict):
    id: int
    name: str
    family: int
    ranges: str
    prefix_length: int | None
    next_pool: str | None
    comment: str | None
    total: int
    expanded: bool
    used: int
    free: int
    stale: int
    status: str
    last_seen: str | None


class AddressRow(TypedDict):
    address: str
    status: str
    owner: str | None
    info: str | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def router_rows(session: Session, scope: Scope, limit: int | None = None) -> list[RouterRow]:
    active = IpPool.status == PoolStatus.ACTIVE
    pool_totals = (
        select(
            IpPool.router_id,
            func.count(IpPool.id).label("pools"),
            func.coalesce(func.sum(case((active, IpPool.used_count), else_=0)), 0).label("used"),
        )
        .group_by(IpPool.router_id)
        .subquery()
    )
    stmt = (
        scope.restrict(
            select(Router, Tenant.name, pool_totals.c.pools, pool_totals.c.used),
            Router.tenant_id,
        )
        .join(Tenant, Tenant.id == Router.tenant_id)
        .outerjoin(pool_totals, pool_totals.c.router_id == Router.id)
        .order_by(Tenant.name, Router.name)
        .limit(limit)
    )
    rows: list[RouterRow] = []
    found = session.execute(stmt).all()
    sizes = _active_pool_sizes(session, [router.id for router, *_ in found])
    for router, tenant, pools, used_count in found:
        rows.append(
            {
                "id": router.id,
                "name": router.name,
                "tenant": tenant,
                "host": router.host,
                "port": router.port,
                "tls": router.tls,
                "tls_verify": router.tls_verify,
                "ca_file": router.ca_file,
                "username": router.username,
                "password_needed": router.password_needed,
                "identity": router.identity,
                "version": router.version,
                "last_status": router.last_status,
                "last_error": router.last_error,
                "last_checked_at": _iso(router.last_checked_at),
                "pools": pools or 0,
                "addresses": sizes.get(router.id, 0),
                "used": used_count or 0,
            }
        )
    return rows


def _active_pool_sizes(session: Session, router_ids: list[int]) -> dict[int, int]:
    """Summed here, not in SQL: a pool's size can pass 2**64, where SQLite's SUM turns to floats."""
    sizes: dict[int, int] = {}
    stmt = select(IpPool.router_id, IpPool.total).where(
        IpPool.status == PoolStatus.ACTIVE, IpPool.router_id.in_(router_ids)
    )
    for router_id, total in session.execute(stmt):
        sizes[router_id] = sizes.get(router_id, 0) + total
    return sizes


def _pools(scope: Scope) -> Select[IpPool]:
    return scope.restrict(select(IpPool).join(Router, Router.id == IpPool.router_id), Router.tenant_id)


def pool_rows(session: Session, scope: Scope, router_id: int) -> list[PoolRow]:
    """The router's pools; none when the router is outside the scope."""
    stmt = _pools(scope).where(IpPool.router_id == router_id).order_by(IpPool.family, IpPool.name)
    pools = list(session.scalars(stmt))
    return [
        {
            "id": pool.id,
            "name": pool.name,
            "family": pool.family,
            "ranges": pool.ranges,
            "prefix_length": pool.prefix_length,
            "next_pool": pool.next_pool,
            "comment": pool.comment,
            "total": pool.total,
            "expanded": pool.expanded,
            "used": pool.used_count,
            "free": pool.free_count,
            "stale": pool.stale_count,
            "status": pool.status,
            "last_seen": _iso(pool.last_seen),
        }
        for pool in pools
    ]


def find_pools(
    session: Session, scope: Scope, router_id: int, name: str, family: int | None = None
) -> list[IpPool]:
    """The router's pools of that name: one per family at most (IPv4 and IPv6 may share a name)."""
    stmt = _pools(scope).where(IpPool.router_id == router_id, IpPool.name == name)
    if family is not None:
        stmt = stmt.where(IpPool.family == family)
    return list(session.scalars(stmt.order_by(IpPool.family)))


# The columns an address list may be ordered by; each then by address.
ADDRESS_ORDERS = ("address", "status", "owner", "info")
_LIKE_ESCAPE = "/"  # not a backslash: PostgreSQL and SQLite read "/" in a literal alike


def contains(
    column: ColumnElement[str | None] | InstrumentedAttribute[str | None], text: str
) -> ColumnElement[bool]:
    """`text` anywhere in the column, in any case; a `%` or `_` in it matches only itself."""
    escaped = "".join(f"{_LIKE_ESCAPE}{char}" if char in f"%_{_LIKE_ESCAPE}" else char for char in text)
    return column.ilike(f"%{escaped}%", escape=_LIKE_ESCAPE)


def address_rows(
    session: Session,
    scope: Scope,
    pool_id: int,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    *,
    search: str | None = None,
    order: str = "address",
    descending: bool = False,
) -> list[AddressRow]:
    """A pool's addresses, `search` in the address, owner or info (any case), in `order` (one of
    ADDRESS_ORDERS, then by address); none when the pool's router is outside the scope."""
    if order not in ADDRESS_ORDERS:
        raise InvalidInput(f"addresses sort by {', '.join(ADDRESS_ORDERS)}, not {order!r}")
    stmt = scope.restrict(
        select(PoolAddress.address, PoolAddress.status, PoolAddress.owner, PoolAddress.info)
        .join(IpPool, IpPool.id == PoolAddress.pool_id)
        .join(Router, Router.id == IpPool.router_id)
        .where(PoolAddress.pool_id == pool_id),
        Router.tenant_id,
    )
    if status:
        stmt = stmt.where(PoolAddress.status == status)
    if search:
        stmt = stmt.where(
            contains(PoolAddress.address, search)
            | contains(PoolAddress.owner, search)
            | contains(PoolAddress.info, search)
        )
    stmt = stmt.order_by(*_address_order(order, descending)).offset(offset).limit(limit)
    return [
        AddressRow(address=row.address, status=row.status, owner=row.owner, info=row.info)
        for row in session.execute(stmt)
    ]


def _address_order(order: str, descending: bool) -> list[ColumnElement[Any]]:
    """Rows without an owner or info last either way, on both databases (they put NULLs apart)."""
    keys: list[ColumnElement[Any]] = []
    if order != "address":
        column = getattr(PoolAddress, order)
        keys += [column.is_(None).asc(), column.desc() if descending else column.asc()]
    sort_key = PoolAddress.sort_key.expression
    keys.append(sort_key.desc() if descending else sort_key.asc())
    return keys
