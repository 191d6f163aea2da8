"""The migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import BigInteger, Engine, Integer

from poolimport.core.models import Base


def _for_this_database(dialect: str) -> Any:
    """Leaves out what the models create on other databases only (`ddl_if`)."""

    def include(obj: Any, _name: str | None, _type: str, reflected: bool, _compare_to: Any) -> bool:
        rule = None if reflected else getattr(obj, "_ddl_if", None)
        if rule is None or rule.dialect is None:
            return True
        return dialect in ((rule.dialect,) if isinstance(rule.dialect, str) else rule.dialect)

    return include


def _same_storage(dialect: str, stored: Any, modelled: Any) -> bool:
    # SQLite stores INTEGER and BIGINT alike (64 bits); its migrations leave such columns INTEGER.
    return dialect == "sqlite" and isinstance(stored, Integer) and isinstance(modelled, BigInteger)


def test_the_migrated_schema_is_the_models(any_engine: Engine) -> None:
    dialect = any_engine.dialect.name
    with any_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": lambda _ctx, _col, _mcol, stored, modelled: (
                    False if _same_storage(dialect, stored, modelled) else None
                ),
                "include_object": _for_this_database(dialect),
            },
        )
        assert compare_metadata(context, Base.metadata) == []
