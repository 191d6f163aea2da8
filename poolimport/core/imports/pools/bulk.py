"""The bulk path for address rows: plain executemany on SQLite, COPY on PostgreSQL.

SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself on this path, so
the rows go to the driver as tuples; other backends fall back to Core `insert()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, insert

from poolimport.core.models import PoolAddress

ADDRESSES = cast(Table, PoolAddress.__table__)
COLUMNS = ("pool_id", "sort_key", "address", "status", "owner", "info")
AddressRow = tuple[int, str, str, str, str | None, str | None]


def _sqlite_insert_sql(conn: Connection) -> str:
    compiled = insert(ADDRESSES).compile(dialect=conn.dialect, column_keys=list(COLUMNS))
    assert compiled.positiontup is not None and tuple(compiled.positiontup) == COLUMNS
    return compiled.string


def insert_addresses(conn: Connection, rows: Sequence[AddressRow]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql(_sqlite_insert_sql(conn), list(rows))
    elif dialect == "postgresql" and conn.dialect.driver == "psycopg":
        cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {ADDRESSES.name} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(insert(ADDRESSES), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
