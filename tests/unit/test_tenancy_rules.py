"""poolimport.core.access.tenancy: who may see and change what, on a real SQLite database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from poolimport.core.access.identity import Identity
from poolimport.core.access.operators import add_operator
from poolimport.core.access.tenancy import (
    AccessDenied,
    NotFound,
    Scope,
    find_router,
    find_tenant,
    resolve_scope,
)
from poolimport.core.db import session_scope
from poolimport.core.errors import InvalidInput
from poolimport.core.models import MAX_ID, ImportJob, Operator, OperatorKey, Router
from tests.conftest import ADMIN


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as session:
        yield session


@pytest.fixture
def north_and_south(engine: Engine, add_router: Callable[..., int]) -> dict[str, int]:
    """Tenant north (id 1) has router core-1, tenant south (id 2) has router edge-1."""
    return {
        "core-1": add_router(name="core-1", tenant="north", port=1),
        "edge-1": add_router(name="edge-1", tenant="south", port=1),
    }


def north_scope(role: str = "operator") -> Scope:
    return Scope(operator="nora", tenant_ids=frozenset({1}), role=role)


# -- resolve_scope -------------------------------------------------------------------------------------------


def test_once_operators_exist_an_unknown_name_is_refused(session: Session) -> None:
    session.add(Operator(name="nora", tenant_id=None, role="admin"))
    with pytest.raises(AccessDenied) as refused:
        resolve_scope(session, Identity(asker="mallory"))
    assert "mallory" in str(refused.value) and "not registered" in str(refused.value)


def test_a_tenant_operator_is_scoped_to_their_tenant_with_their_role(
    session: Session, north_and_south: dict[str, int]
) -> None:
    session.add(Operator(name="admin", tenant_id=None, role="admin"))
    session.add(Operator(name="vic", tenant_id=2, role="viewer"))
    expected = Scope(operator="vic", tenant_ids=frozenset({2}), role="viewer", via="CLI")
    assert resolve_scope(session, Identity(asker="vic")) == expected


def test_an_operator_without_a_tenant_sees_every_tenant(session: Session) -> None:
    session.add(Operator(name="olga", tenant_id=None, role="operator"))
    expected = Scope(operator="olga", tenant_ids=None, role="operator", via="CLI")
    assert resolve_scope(session, Identity(asker="olga")) == expected


# -- Scope ---------------------------------------------------------------------------------------------------


def test_a_viewer_may_not_write_and_is_told_what_was_refused() -> None:
    viewer = north_scope("viewer")
    assert not viewer.can_write
    with pytest.raises(AccessDenied) as refused:
        viewer.require_write("start imports")
    assert str(refused.value) == "nora is a viewer and may not start imports"


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_admins_and_operators_may_write(role: str) -> None:
    scope = north_scope(role)
    assert scope.can_write
    scope.require_write("start imports")  # no exception


def test_a_tenant_scope_allows_its_tenant_only_and_an_unscoped_one_every_tenant() -> None:
    assert north_scope().allows_tenant(1)
    assert not north_scope().allows_tenant(2)
    assert ADMIN.allows_tenant(2)


def test_scoped_queries_return_only_the_scopes_tenant(
    session: Session, north_and_south: dict[str, int]
) -> None:
    for router_id, tenant_id in ((north_and_south["core-1"], 1), (north_and_south["edge-1"], 2)):
        session.execute(
            insert(ImportJob).values(
                router_id=router_id, tenant_id=tenant_id, requested_by="x", status="failed", time_limit=1
            )
        )
    scope = north_scope()
    assert [r.name for r in session.scalars(scope.routers())] == ["core-1"]
    assert [j.tenant_id for j in session.scalars(scope.jobs())] == [1]
    assert [t.name for t in session.scalars(scope.tenants())] == ["north"]
    assert sorted(r.name for r in session.scalars(ADMIN.routers())) == ["core-1", "edge-1"]
    assert sorted(j.tenant_id for j in session.scalars(ADMIN.jobs())) == [1, 2]
    assert sorted(t.name for t in session.scalars(ADMIN.tenants())) == ["north", "south"]


# -- find_tenant / find_router -------------------------------------------------------------------------------


def test_a_tenant_outside_the_scope_is_not_found(session: Session, north_and_south: dict[str, int]) -> None:
    assert find_tenant(session, north_scope(), "north").name == "north"
    with pytest.raises(NotFound) as missing:
        find_tenant(session, north_scope(), "south")
    assert str(missing.value) == "no tenant named 'south'"


def test_a_router_is_found_by_name(session: Session, north_and_south: dict[str, int]) -> None:
    assert find_router(session, ADMIN, "edge-1").id == north_and_south["edge-1"]
    assert find_router(session, ADMIN, "edge-1", tenant="south").id == north_and_south["edge-1"]


def test_a_router_outside_the_scope_is_not_found_by_name_or_id(
    session: Session, north_and_south: dict[str, int]
) -> None:
    for ref in ("edge-1", str(north_and_south["edge-1"])):
        with pytest.raises(NotFound) as missing:
            find_router(session, north_scope(), ref)
        assert str(missing.value) == f"no router {ref!r}"


def test_a_router_is_found_by_id_when_no_name_matches(
    session: Session, north_and_south: dict[str, int]
) -> None:
    edge = north_and_south["edge-1"]
    assert find_router(session, ADMIN, str(edge)).name == "edge-1"
    assert find_router(session, ADMIN, str(edge), tenant="south").name == "edge-1"


def test_a_router_found_by_id_in_another_tenant_than_asked_is_not_found(
    session: Session, north_and_south: dict[str, int]
) -> None:
    ref = str(north_and_south["edge-1"])
    with pytest.raises(NotFound) as missing:
        find_router(session, ADMIN, ref, tenant="north")
    assert str(missing.value) == f"no router {ref!r} in tenant 'north'"


def test_a_name_that_looks_like_an_id_wins_over_the_id(
    session: Session, north_and_south: dict[str, int], add_router: Callable[..., int]
) -> None:
    edge = north_and_south["edge-1"]
    named_like_edge = add_router(name=str(edge), tenant="north", port=1)
    assert find_router(session, ADMIN, str(edge)).id == named_like_edge


def test_the_largest_id_is_looked_up_and_a_larger_one_is_just_not_found(
    session: Session, north_and_south: dict[str, int]
) -> None:
    session.execute(
        insert(Router).values(
            id=MAX_ID, tenant_id=1, name="far", host="h", port=1, username="u", password_encrypted=b""
        )
    )
    assert find_router(session, ADMIN, str(MAX_ID)).name == "far"
    with pytest.raises(NotFound) as missing:
        find_router(session, ADMIN, str(MAX_ID + 1))
    assert str(missing.value) == f"no router '{MAX_ID + 1}'"


def test_an_unknown_name_is_not_found(session: Session, north_and_south: dict[str, int]) -> None:
    with pytest.raises(NotFound) as missing:
        find_router(session, ADMIN, "nowhere")
    assert str(missing.value) == "no router 'nowhere'"


def test_a_name_in_two_tenants_needs_the_tenant(
    session: Session, north_and_south: dict[str, int], add_router: Callable[..., int]
) -> None:
    south_core = add_router(name="core-1", tenant="south", port=1)
    with pytest.raises(NotFound) as ambiguous:
        find_router(session, ADMIN, "core-1")
    assert str(ambiguous.value) == "router 'core-1' exists in tenants north, south: pass --tenant"
    assert find_router(session, ADMIN, "core-1", tenant="south").id == south_core
    assert find_router(session, ADMIN, "core-1", tenant="north").id == north_and_south["core-1"]


def test_a_name_in_another_tenant_than_asked_is_not_found(
    session: Session, north_and_south: dict[str, int]
) -> None:
    with pytest.raises(NotFound) as missing:
        find_router(session, ADMIN, "edge-1", tenant="north")
    assert str(missing.value) == "no router 'edge-1' in tenant 'north'"


def test_the_asked_tenant_must_be_in_scope(session: Session, north_and_south: dict[str, int]) -> None:
    with pytest.raises(NotFound) as missing:
        find_router(session, north_scope(), "edge-1", tenant="south")
    assert str(missing.value) == "no tenant named 'south'"


# -- add_operator --------------------------------------------------------------------------------------------


def operators(session: Session) -> dict[str, tuple[int | None, str]]:
    """Everyone registered but the account running the tests (its engine registers it as admin)."""
    return {o.name: (o.tenant_id, o.role) for o in session.scalars(select(Operator)) if o.name != "root"}


@pytest.mark.parametrize(
    "scope",
    [north_scope("admin"), Scope(operator="olga", tenant_ids=None, role="operator")],
    ids=["tenant admin", "global operator"],
)
def test_only_an_administrator_of_every_tenant_adds_operators(
    session: Session, north_and_south: dict[str, int], scope: Scope
) -> None:
    with pytest.raises(AccessDenied) as refused:
        add_operator(session, scope, "vic", "north", "viewer")
    assert str(refused.value) == "only an administrator may add operators"
    assert operators(session) == {}


def test_an_unknown_role_is_refused_naming_the_roles(session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_operator(session, ADMIN, "vic", None, "boss")
    assert str(refused.value) == "unknown role 'boss': one of admin, operator, viewer"


def test_an_operator_name_is_registered_once(session: Session, north_and_south: dict[str, int]) -> None:
    add_operator(session, ADMIN, "nora", "north", "operator")
    with pytest.raises(InvalidInput) as refused:
        add_operator(session, ADMIN, "nora", "south", "viewer")
    assert str(refused.value) == "operator 'nora' already exists"
    assert operators(session)["nora"] == (1, "operator")


def test_an_administrator_acting_as_an_operator_is_named_and_their_key_kept_out_of_the_record(
    session: Session, north_and_south: dict[str, int]
) -> None:
    """How a job was asked for is read by the acted-as operator's tenant: it says an administrator acted,
    and not with which of the administrator's keys."""
    admin = Operator(name="ada", tenant_id=None, role="admin")
    session.add_all([admin, Operator(name="vic", tenant_id=2, role="operator")])
    session.flush()
    session.add(
        OperatorKey(operator_id=admin.id, fingerprint="SHA256:adminkey", public_key="ssh-ed25519 AAAA")
    )
    session.flush()
    acting = Identity(asker="ada", acting_as="vic", origin="10.0.0.9", key="SHA256:adminkey")
    scope = resolve_scope(session, acting)
    assert scope.operator == "vic" and scope.via == "CLI over SSH, by administrator ada acting as vic"
    assert "adminkey" not in scope.via
