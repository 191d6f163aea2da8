"""The audit is append-only on every backend, and read within the asker's tenants."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, text, update
from sqlalchemy.exc import DBAPIError

from poolimport.core.access.audit import REFUSED, audit_rows, record, record_refusal
from poolimport.core.access.tenancy import Scope
from poolimport.core.db import session_scope
from poolimport.core.models import AuditEvent

NORTH = Scope(operator="nora", tenant_ids=frozenset({1}), role="operator")
ADMIN_AS_NORA = Scope(operator="nora", tenant_ids=frozenset({1}), role="operator", actor="root")


def test_rows_can_be_added_but_never_changed_or_removed(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        record(conn, NORTH, "router.add", tenant_id=1, subject="r1")
    for statement in (update(AuditEvent).values(outcome="ok"), delete(AuditEvent)):
        with pytest.raises(DBAPIError, match="append-only"), any_engine.begin() as conn:
            conn.execute(statement)
    with any_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_events")) == 1


def test_a_refused_request_leaves_only_its_refusal(any_engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(any_engine) as session:
        record(session, NORTH, "import", tenant_id=1, router_id=7)
        raise RuntimeError("router busy")
    record_refusal(any_engine, NORTH, "import", "router busy", tenant_id=1, router_id=7)
    with session_scope(any_engine) as session:
        [row] = audit_rows(session, NORTH)
    assert (row["outcome"], row["detail"], row["actor"]) == (REFUSED, "router busy", "nora")


def test_rows_are_read_within_the_askers_tenants_and_name_who_acted_as_whom(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        record(conn, ADMIN_AS_NORA, "import", tenant_id=1)
        record(conn, Scope(operator="sam", tenant_ids=frozenset({2})), "import", tenant_id=2)
        record(conn, Scope(operator="root", tenant_ids=None), "tenant.add", subject="south")
    with session_scope(any_engine) as session:
        north = audit_rows(session, NORTH)
        everything = audit_rows(session, Scope(operator="root", tenant_ids=None))
        by_nora = audit_rows(session, Scope(operator="root", tenant_ids=None), operator="nora")
    assert [(r["actor"], r["acting_as"]) for r in north] == [("root", "nora")]
    assert len(everything) == 3
    assert [r["action"] for r in by_nora] == ["import"]
