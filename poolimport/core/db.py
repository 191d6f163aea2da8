"""Engine and session factory; SQLite gets WAL, a busy timeout and foreign keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session

from poolimport.core.config import Settings, masked_url
from poolimport.core.errors import PoolimportError
from poolimport.core.jobs.progress import folder_beside
from poolimport.core.private_files import make_private, private_dir, private_file, sqlite_files

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Heartbeats give up fast rather than queue behind a long pool write (SQLite has one writer).
HEARTBEAT_BUSY_TIMEOUT_MS = 200
# libpq's connection settings, each overridden by the same parameter in the database URL.
PG_NETWORK_DEFAULTS = {
    "connect_timeout": 10,  # seconds
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class DatabaseError(PoolimportError):
    """The database cannot be reached or is not ready; the message says what to do."""


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text


def _sqlite_tuner(busy_timeout_ms: int, database: Path | None) -> Any:
    def tune(dbapi_conn: Any, _record: Any) -> None:
        # isolation_level=None hands transaction control to us (BEGIN below), which pysqlite
        # otherwise gets wrong for DDL and SAVEPOINTs.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # SQLite's own lower() knows only ASCII, so a search (ILIKE: lower() on both sides) would miss
        # "Émile" for "émile"; Python's, in its place, lowers as PostgreSQL's does.
        dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
        if database is not None:
            # SQLite gives the WAL and SHM files the database file's mode; a database left readable by
            # others (made before files were private) is tightened, with its companions, on first use.
            make_private([*sqlite_files(database), folder_beside(database)])

    return tune


# An execution option (see `reading`): this connection only reads, even on an engine made for writing.
READING = "poolimport_reading"


def _begin_immediate(conn: Any) -> None:
    if conn.get_execution_options().get(READING):
        conn.exec_driver_sql("BEGIN")
        return
    # IMMEDIATE takes the write lock up front: two writers never deadlock on a lock upgrade,
    # the second one waits for busy_timeout instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, purpose: str = "write") -> Engine:
    """purpose: "write" (default), "read" (SQLite: never takes the write lock, so polling never waits on an
    import) or "heartbeat" (SQLite: a write that gives up after a moment)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseError(f"invalid database URL {masked_url(url)!r}") from None
    if parsed.get_backend_name() == "sqlite":
        folder = sqlite_folder(url)
        if folder is not None and not folder.is_dir():
            # SQLite would say only "unable to open database file"; a typo must not create folders.
            raise DatabaseError(f"the database folder {folder} does not exist: create it or fix the URL")
        # A `file:` URI (uri=true) names its file in its own syntax: left to SQLite.
        plain_file = folder is not None and "uri" not in parsed.query
        database = Path(parsed.database) if plain_file and parsed.database else None
        if database is not None:
            private_file(database)  # SQLite itself would make it 0644
        busy = HEARTBEAT_BUSY_TIMEOUT_MS if purpose == "heartbeat" else SQLITE_BUSY_TIMEOUT_MS
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": busy / 1000})
        event.listen(engine, "connect", _sqlite_tuner(busy, database))
        event.listen(engine, "begin", _begin_deferred if purpose == "read" else _begin_immediate)
        return engine
    # What the URL doesn't say itself: a server that never answers a connect is given up on, and a
    # connection whose server went silent is found dead by the kernel, rather than waited on for minutes.
    network = {key: value for key, value in PG_NETWORK_DEFAULTS.items() if key not in parsed.query}
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=network)
    except (NoSuchModuleError, ImportError):  # an unknown dialect, or a known one without its module
        raise DatabaseError(
            f"database driver for {parsed.drivername} is not installed"
            " (supported: sqlite, postgresql+psycopg with the postgres extra)"
        ) from None


def sqlite_folder(url: str) -> Path | None:
    """The folder of a SQLite database file; None for other databases and in-memory ones."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).parent


_engines: dict[tuple[str, str], Engine] = {}


def get_engine(settings: Settings, purpose: str = "write") -> Engine:
    if purpose != "write" and not settings.is_sqlite:
        purpose = "write"  # only SQLite needs separate engines; elsewhere share one pool
    key = (settings.database_url, purpose)
    engine = _engines.get(key)
    if engine is None:
        if sqlite_folder(settings.database_url) == settings.home:
            private_dir(settings.home)  # the one folder made on demand
        engine = _engines[key] = make_engine(settings.database_url, purpose)
    return engine


def reading(engine: Engine) -> Engine:
    """`engine` for reads alone: on SQLite they never wait for the write lock, which an import holds for
    as long as it writes one pool (a sign-in or a schema check must not wait for a /12 to be written)."""
    return engine.execution_options(**{READING: True})


def get_read_engine(settings: Settings) -> Engine:
    return get_engine(settings, "read")


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe_connect_error(exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return masked_url(text.strip().splitlines()[0]) if text.strip() else exc.__class__.__name__


def has_table(engine: Engine, name: str) -> bool:
    return inspect(engine).has_table(name)
