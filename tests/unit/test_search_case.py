"""A search matches in any case, beyond ASCII too, on SQLite as on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from poolimport.core.db import session_scope
from poolimport.core.models import Tenant
from poolimport.core.queries import contains


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("émile", ["Émile-Net"]),
        ("ÉMILE", ["Émile-Net"]),
        ("ärger", ["ÄRGER"]),
        ("ünï", ["Ünï"]),
        ("net", ["Émile-Net"]),
        ("%", ["50%"]),  # a wildcard character matches only itself
        ("_", []),
    ],
)
def test_a_search_matches_in_any_case_beyond_ascii(any_engine: Engine, typed: str, found: list[str]) -> None:
    with session_scope(any_engine) as session:
        session.add_all(Tenant(name=name) for name in ("Émile-Net", "ÄRGER", "Ünï", "50%"))
    with session_scope(any_engine) as session:
        names = session.scalars(select(Tenant.name).where(contains(Tenant.name, typed)).order_by(Tenant.name))
        assert list(names) == found
