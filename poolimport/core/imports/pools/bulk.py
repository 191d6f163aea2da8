"""The bulk path for address rows: plain executemany on SQLite, COPY on PostgreSQL (one for every batch of a
new pool).

SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself on this path, so
the rows go to the driver as tuples; other backends fall back to Core `insert()`. Updates of many rows
go to SQLite's driver as tuples too, and elsewhere through Core's executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, literal_column, update
from sqlalchemy.sql.dml import Update

from poolimport.core.models import PoolAddress
from poolimport.core.statuses import AddressStatus

ADDRESSES = cast(Table, PoolAddress.__table__)
COLUMNS = ("pool_id", "sort_key", "address", "status", "owner", "info")
AddressRow = tuple[int, str, str, str, str | None, str | None]
# (status, owner, info, id): a row whose used state, owner or info changed.
RewriteRow = tuple[str, str | None, str | None, int]
# (owner, info, pool_id, sort_key): a free address that became used.
TakeRow = tuple[str, str, int, str]

_REWRITE = (
    update(ADDRESSES)
    .where(ADDRESSES.c.id == bindparam("row_id"))
    .values(status=bindparam("new_status"), owner=bindparam("new_owner"), info=bindparam("new_info"))
)
_REWRITE_ORDER = ("new_status", "new_owner", "new_info", "row_id")
_TAKE = (
    update(ADDRESSES)
    .where(
        ADDRESSES.c.pool_id == bindparam("in_pool"),
        ADDRESSES.c.sort_key == bindparam("key"),
        ADDRESSES.c.status == literal_column(f"'{AddressStatus.FREE.value}'"),
    )
    .values(
        status=literal_column(f"'{AddressStatus.USED.value}'"),
        owner=bindparam("new_owner"),
        info=bindparam("new_info"),
    )
)
_TAKE_ORDER = ("new_owner", "new_info", "in_pool", "key")


def _sqlite_insert_sql(conn: Connection) -> str:
    compiled = insert(ADDRESSES).compile(dialect=conn.dialect, column_keys=list(COLUMNS))
    assert compiled.positiontup is not None and tuple(compiled.positiontup) == COLUMNS
    return compiled.string


def _copies(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def _copy(conn: Connection) -> Any:
    cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    return cursor.copy(f"COPY {ADDRESSES.name} ({', '.join(COLUMNS)}) FROM STDIN")


def insert_addresses(conn: Connection, rows: Sequence[AddressRow]) -> None:
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_sqlite_insert_sql(conn), list(rows))
    elif _copies(conn):
        with _copy(conn) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(insert(ADDRESSES), [dict(zip(COLUMNS, row, strict=True)) for row in rows])


@contextmanager
def inserting(conn: Connection, only_inserts: bool) -> Iterator[Callable[[Sequence[AddressRow]], None]]:
    """A function that inserts address rows. only_inserts: nothing else runs on `conn` until the block
    ends, so on PostgreSQL one COPY takes every batch, and the server stores one while the next is built
    (a COPY per batch would keep it idle meanwhile)."""
    if not (only_inserts and _copies(conn)):
        yield partial(insert_addresses, conn)
        return
    with _copy(conn) as copy:

        def write(rows: Sequence[AddressRow]) -> None:
            for row in rows:
                copy.write_row(row)

        yield write


def _update_many(
    conn: Connection, stmt: Update, order: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> int:
    """Runs `stmt` once per row (its parameters in `order`); returns how many rows it matched in all."""
    if conn.dialect.name == "sqlite":
        compiled = stmt.compile(dialect=conn.dialect)
        assert compiled.positiontup is not None and tuple(compiled.positiontup) == order
        return conn.exec_driver_sql(compiled.string, list(rows)).rowcount
    return conn.execute(stmt, [dict(zip(order, row, strict=True)) for row in rows]).rowcount


def rewrite_addresses(conn: Connection, rows: Sequence[RewriteRow]) -> None:
    if rows:
        _update_many(conn, _REWRITE, _REWRITE_ORDER, rows)


def take_free_addresses(conn: Connection, rows: Sequence[TakeRow]) -> int:
    """Free addresses become used, each with its owner and info; returns how many were free to take."""
    return _update_many(conn, _TAKE, _TAKE_ORDER, rows) if rows else 0
