"""The form edits every field of a router, and tests what it would save: two bugs came from the form
keeping its own list of router fields (it dropped the CA file on save, and tested port 8728 with TLS)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from textual.widgets import Checkbox, Input

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.models import Router
from poolimport.core.routers.fields import API_SSL_PORT, FIELD_NAMES, RouterFields, fields_of
from poolimport.sim import SimServer
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.router_form import RouterForm
from tests.listener import RecordingListener
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, routers_loaded, select_router


def stored_fields(engine: Engine, router_id: int) -> RouterFields:
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        return fields_of(router)


async def open_form(pilot, app: PoolImportApp, key: str) -> RouterForm:  # type: ignore[no-untyped-def]
    await pilot.press(key)
    form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="form")
    assert isinstance(form, RouterForm)
    return form


async def test_saving_an_edit_keeps_every_field_the_form_does_not_show(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim, name="core", tls=True, ca_file="/etc/ssl/private-ca.pem", encoding="latin-1")
    before = stored_fields(engine, router_id)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await select_router(pilot, app, "core")
        form = await open_form(pilot, app, "e")
        form.query_one("#timeout", Input).value = "7"  # not where the password goes: no password needed
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: stored_fields(engine, router_id).timeout == 7, what="the edit saved")
    after = stored_fields(engine, router_id)
    assert {name: getattr(after, name) for name in FIELD_NAMES if name != "timeout"} == {
        name: getattr(before, name) for name in FIELD_NAMES if name != "timeout"
    }
    assert after.ca_file == "/etc/ssl/private-ca.pem" and after.encoding == "latin-1"


async def test_test_connection_with_tls_and_no_port_tries_the_api_ssl_port(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="other")  # the tenant exists; the form offers it
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        form = await open_form(pilot, app, "a")
        for widget_id, value in (("name", "new"), ("host", "127.0.0.1"), ("username", "api")):
            form.query_one(f"#{widget_id}", Input).value = value
        form.query_one("#password", Input).value = "typed"
        form.query_one("#tls", Checkbox).value = True
        await pilot.press("ctrl+t")

        def status() -> str:
            return str(form.query_one("#form-status").render())

        await wait_until(pilot, lambda: "testing" not in status() and status().strip() != "", what="the test")
        assert f"127.0.0.1:{API_SSL_PORT}" in status()


async def test_what_the_form_tests_is_what_it_saves(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    """The endpoint "Test connection" reaches is the one "Save" stores, port made explicit."""
    add_router(None, name="other")
    with RecordingListener() as listener:
        app = PoolImportApp(tui_settings)
        async with app.run_test(size=SIZE) as pilot:
            await routers_loaded(pilot, app, 1)
            form = await open_form(pilot, app, "a")
            values = (
                ("name", "new"),
                ("host", "127.0.0.1"),
                ("port", str(listener.port)),
                ("username", "api"),
            )
            for widget_id, value in values:
                form.query_one(f"#{widget_id}", Input).value = value
            form.query_one("#password", Input).value = "typed"
            await pilot.press("ctrl+t")
            await wait_until(pilot, lambda: listener.connections == 1, what="the test to connect")
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: not isinstance(app.screen, RouterForm), what="the form to close")
        with session_scope(engine) as session:
            saved = session.query(Router).filter_by(name="new").one()
            assert (saved.host, saved.port, saved.tls) == ("127.0.0.1", listener.port, False)
