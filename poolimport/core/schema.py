"""Create or upgrade the schema through Alembic, and check it is current before other commands run.

Alembic is imported only by `upgrade`: it costs a third of a second, and every command checks the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from poolimport.core.db import reading
from poolimport.core.errors import PoolimportError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration; a test checks it against Alembic's own idea of head.
HEAD_REVISION = "0011"


class SchemaNotReady(PoolimportError):
    """The database has no schema, or an older one: `poolimport init` fixes it."""


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def alembic_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with reading(engine).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.scalar(text("SELECT version_num FROM alembic_version"))


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to head; returns (revision before, revision after). Idempotent."""
    from alembic import command

    before = current_revision(engine)
    config = _alembic_config()
    with engine.connect() as conn, _foreign_keys_off(conn), conn.begin():
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return before, current_revision(engine)


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite changes a table by recreating it (Alembic's batch mode); with foreign keys on, dropping the old
    table would cascade-delete every row that refers to it. The pragma has no effect inside a transaction,
    so it is set on the bare connection around the migration, and the references are checked after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise SchemaNotReady(f"the migration left {len(broken)} broken references; restore a backup")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def ensure_current(engine: Engine) -> None:
    current = current_revision(engine)
    if current is None:
        raise SchemaNotReady("the database has no schema yet: run `poolimport init`")
    if current != HEAD_REVISION:
        raise SchemaNotReady(
            f"the database schema is {current}, this version needs {HEAD_REVISION}: run `poolimport init`"
        )
