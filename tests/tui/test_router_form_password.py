"""The router form moves a router only with its password: neither "Save" nor "Test connection" sends the
stored password to a host, port, username or TLS setting it was not entered for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine
from textual.widgets import Input

from poolimport.core.access.audit import REFUSED, audit_rows
from poolimport.core.access.identity import Identity, os_account
from poolimport.core.access.operators import add_operator
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.errors import InvalidInput
from poolimport.core.models import Router
from poolimport.core.routers.fields import fields_of
from poolimport.sim import SimServer
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.router_form import RouterForm
from tests.conftest import ADMIN, PASSWORD
from tests.listener import RecordingListener
from tests.tui.conftest import notices, wait_until
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


def refusals(engine: Engine) -> list[tuple[str, str | None, int | None, str]]:
    """(action, acting as, router id, reason) of every refusal recorded, oldest first."""
    with session_scope(engine) as session:
        rows = audit_rows(session, ADMIN)
    return [
        (row["action"], row["acting_as"], row["router_id"], row["detail"])
        for row in reversed(rows)
        if row["outcome"] == REFUSED
    ]


async def open_edit_form(pilot: Any, app: PoolImportApp, name: str) -> RouterForm:
    await select_router(pilot, app, name)
    await pilot.press("e")
    form: RouterForm = await wait_until(
        pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="edit form"
    )
    return form


def form_says(form: RouterForm) -> str:
    return str(form.query_one("#form-status").render())


async def test_refusals_in_the_router_form_are_recorded_like_any_other(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    """What the form refuses itself (a move without the password, a value it can't take), what core refuses
    behind it (a name already taken, a viewer saving or testing): each refusal is one row in the audit."""
    core = add_router(sim, name="core")
    add_router(sim, name="edge")
    with session_scope(engine) as session:
        add_operator(session, ADMIN, "vic", None, "viewer", every_tenant=True)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 2)
        form = await open_edit_form(pilot, app, "core")
        form.query_one("#host", Input).value = "127.0.0.2"
        for key in ("ctrl+s", "ctrl+t"):
            form.query_one("#form-status").update("")
            await pilot.press(key)
            await wait_until(pilot, lambda: NEEDS_PASSWORD in form_says(form), what=f"{key} refused")
        form.query_one("#host", Input).value = "not a host"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "host must be" in form_says(form), what="a bad host refused")
        form.query_one("#host", Input).value = "127.0.0.1"
        form.query_one("#name", Input).value = "edge"
        await pilot.press("ctrl+s")  # the form takes it; core refuses it
        await wait_until(
            pilot, lambda: "already has a router" in form_says(form), what="taken, said in the form"
        )
        await wait_until(pilot, lambda: len(refusals(engine)) == 4, what="four refusals recorded")

    viewer = PoolImportApp(replace(tui_settings, identity=Identity(os_account(), acting_as="vic")))
    async with viewer.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, viewer, 2)
        form = await open_edit_form(pilot, viewer, "core")
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: "viewer" in form_says(form) or notices(viewer), what="test refused")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: len(refusals(engine)) == 6, what="six refusals recorded")
    assert sim.connections_served == 0
    needs = f"changing the host of router 'core' {NEEDS_PASSWORD}"
    assert [row[:3] for row in refusals(engine)] == [
        ("router.edit", "ops", core),
        ("router.test", "ops", core),
        ("router.edit", "ops", core),
        ("router.edit", "ops", core),
        ("router.test", "vic", core),
        ("router.edit", "vic", core),
    ]
    reasons = [row[3] for row in refusals(engine)]
    assert reasons[0].startswith(needs) and reasons[1].startswith(needs)
    assert reasons[2].startswith("host must be an IP address or a host name")
    assert reasons[3] == "tenant 'acme' already has a router named 'edge'"
    assert reasons[4].startswith("vic is a viewer and may not test routers")
    assert reasons[5].startswith("vic is a viewer and may not change routers")
