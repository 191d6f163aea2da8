"""What a new operator reads: forms that keep what was typed when a save fails, an empty installation
that says what to do first, an unregistered operator told why and by whom to be registered, statuses that
read without colour, notices that leave the log readable, and footers with each screen's own keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, select
from textual.geometry import Region
from textual.widgets import Input, Select
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

from poolimport.core.config import Settings, load_settings
from poolimport.core.db import session_scope
from poolimport.core.models import AuditEvent, Operator, Router, Tenant
from poolimport.tui.app import PoolImportApp, main
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.audit_screen import AuditScreen
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.router_form import RouterForm
from poolimport.tui.components.routers_table import RoutersTable
from poolimport.tui.components.tenant_form import TenantForm
from poolimport.tui.components.workers_screen import WorkersScreen
from tests.tui.conftest import wait_until
from tests.tui.sample_data import seed
from tests.tui.test_app import SIZE, notices, routers_loaded, select_router

NARROW = (80, 24)


def screen_text(app: PoolImportApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def audited(engine: Engine, action: str, outcome: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.outcome == outcome)
        ).all()
        session.expunge_all()
        return list(rows)


def form_status(form: Any) -> str:
    return str(form.query_one("#form-status").render())


def typed(form: Any, values: dict[str, str]) -> None:
    for widget_id, value in values.items():
        form.query_one(f"#{widget_id}", Input).value = value


def values_of(form: Any, ids: Any) -> dict[str, str]:
    return {widget_id: form.query_one(f"#{widget_id}", Input).value for widget_id in ids}


async def open_screen(pilot: Any, key: str, kind: type) -> Any:
    await pilot.press(key)
    return await wait_until(
        pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen, what=kind.__name__
    )


# -- 1. a failed save keeps the form, and what was typed ----------------------------------------------


async def test_adding_a_router_whose_name_is_taken_keeps_the_form_and_says_why_in_it(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        form = await open_screen(pilot, "a", RouterForm)
        entered = {"name": "core", "host": "10.0.0.9", "username": "api", "password": "typed"}
        typed(form, entered)
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: "already has a router named 'core'" in form_status(form), what="error"
        )
        assert app.screen is form and form.query_one("#form-status").has_class("error")
        assert values_of(form, entered) == entered
        assert form.query_one("#tenant", Select).value == "acme"
        assert not any("already has a router" in n for n in notices(app))  # said once: in the form
        assert audited(engine, "router.add", "refused")

        form.query_one("#name", Input).value = "core-2"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, RouterForm), what="the form to close")
        assert any("router core-2 saved" in n for n in notices(app))
    with session_scope(engine) as session:
        assert session.scalar(select(Router.host).where(Router.name == "core-2")) == "10.0.0.9"


async def test_editing_a_router_to_a_taken_name_keeps_the_form_and_what_was_typed(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")
    edge = add_router(None, name="edge")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 2)
        await select_router(pilot, app, "edge")
        form = await open_screen(pilot, "e", RouterForm)
        typed(form, {"name": "core", "timeout": "9"})
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: "already has a router named 'core'" in form_status(form), what="error"
        )
        assert app.screen is form
        assert values_of(form, ("name", "timeout")) == {"name": "core", "timeout": "9"}
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RouterForm), what="the form to close")
    with session_scope(engine) as session:
        router = session.get(Router, edge)
        assert router is not None and (router.name, router.timeout) == ("edge", 3.0)


# -- 2. an empty installation says what to do first, and the TUI adds a tenant -------------------------


async def test_with_no_tenant_a_offers_the_tenant_form_then_the_router_form(
    engine: Engine, tui_settings: Settings
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: "No routers yet: press a to add one" in screen_text(app),
            what="the routers pane saying what to do",
        )
        form = await open_screen(pilot, "a", TenantForm)
        assert "no tenants yet" in screen_text(app).lower()
        typed(form, {"tenant-name": "acme"})
        await pilot.press("ctrl+s")
        router_form = await wait_until(
            pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="the router form"
        )
        assert router_form.query_one("#tenant", Select).value == "acme"
        assert any("tenant acme added" in n for n in notices(app))
    with session_scope(engine) as session:
        assert session.scalar(select(Tenant.name)) == "acme"
    assert audited(engine, "tenant.add", "ok")


async def test_capital_t_adds_a_tenant_and_a_taken_name_keeps_the_form(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")  # tenant acme
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        form = await open_screen(pilot, "T", TenantForm)
        typed(form, {"tenant-name": "acme"})
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "tenant 'acme' already exists" in form_status(form), what="error")
        assert app.screen is form and values_of(form, ["tenant-name"]) == {"tenant-name": "acme"}
        typed(form, {"tenant-name": "globex"})
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, TenantForm), what="the form to close")
    with session_scope(engine) as session:
        assert sorted(session.scalars(select(Tenant.name))) == ["acme", "globex"]


async def test_a_non_administrator_is_refused_adding_a_tenant_once_and_it_is_audited(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_router(None, name="core")
    with session_scope(engine) as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == "acme"))
        session.add(Operator(name="nina", tenant_id=tenant_id, role="operator"))
    monkeypatch.setenv("POOLIMPORT_OPERATOR", "nina")
    app = PoolImportApp(load_settings())
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("T")
        await wait_until(pilot, lambda: notices(app), what="the refusal")
        assert notices(app) == ["only an administrator may add tenants"]
        assert not isinstance(app.screen, TenantForm)
    assert [row.acting_as for row in audited(engine, "tenant.add", "refused")] == ["nina"]


# -- 3. an operator who isn't registered ------------------------------------------------------------


def test_the_tui_started_by_an_unregistered_operator_says_how_to_register_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POOLIMPORT_OPERATOR", "ghost")
    with pytest.raises(SystemExit) as ended:
        main(load_settings())
    message = str(ended.value.code)
    assert message.startswith("error: operator 'ghost' is not registered")
    assert "`poolimport operator add ghost`" in message


async def test_an_operator_unregistered_in_a_session_sees_one_banner_until_registered(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        with session_scope(engine) as session:
            session.query(Operator).filter_by(name="ops").delete()
        banner = app.main_screen.query_one(Banner)
        await wait_until(pilot, lambda: "not registered" in str(banner.render()), what="the banner")
        said = str(banner.render())
        assert "operator 'ops' is not registered" in said and "`poolimport operator add ops`" in said
        assert not [n for n in notices(app) if "not registered" in n]
        with session_scope(engine) as session:
            session.add(Operator(name="ops", tenant_id=None, role="admin"))
        await wait_until(pilot, lambda: not banner.display, what="the banner to go")
