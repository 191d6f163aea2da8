"""The router form moves a router only with its password: neither "Save" nor "Test connection" sends the
stored password to a host, port, username or TLS setting it was not entered for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import Engine
from textual.widgets import Input

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.errors import InvalidInput
from poolimport.core.models import Router
from poolimport.core.router_fields import fields_of
from poolimport.sim import SimServer
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.router_form import RouterForm
from tests.conftest import PASSWORD
from tests.listener import RecordingListener
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, routers_loaded, select_router

NEEDS_PASSWORD = "needs its password again"


def stored_port(engine: Engine, router_id: int) -> int:
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        return router.port


async def test_the_form_will_not_send_the_stored_password_to_a_new_endpoint(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim, name="core")
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        towards_listener = fields_of(router)
    with RecordingListener() as listener:
        towards_listener = replace(towards_listener, port=listener.port)
        app = PoolImportApp(tui_settings)
        async with app.run_test(size=SIZE) as pilot:
            await routers_loaded(pilot, app, 1)
            await select_router(pilot, app, "core")
            await pilot.press("e")
            form = await wait_until(
                pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="edit form"
            )
            form.query_one("#port", Input).value = str(listener.port)

            def status() -> str:
                return str(form.query_one("#form-status").render())

            for key in ("ctrl+t", "ctrl+s"):
                form.query_one("#form-status").update("")
                await pilot.press(key)
                await wait_until(pilot, lambda: NEEDS_PASSWORD in status(), what=f"{key} refused")
                assert app.screen is form
            # Past the form, the calls it makes refuse the same.
            with pytest.raises(InvalidInput, match=NEEDS_PASSWORD):
                app.data.test_unsaved(towards_listener, None, router_id)
            with pytest.raises(InvalidInput, match=NEEDS_PASSWORD):
                app.data.save_router(router_id, "acme", towards_listener, None)
            assert stored_port(engine, router_id) == sim.port

            form.query_one("#password", Input).value = "typed-for-the-listener"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: stored_port(engine, router_id) == listener.port, what="saved")
        received = listener.received()
    assert PASSWORD.encode() not in received
    assert listener.connections == 0
