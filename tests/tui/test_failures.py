"""Whatever a worker raises reaches the one presenter: a refusal is one warning, database trouble the banner
and a notice, a bug an "unexpected error" notice (and a log line); the session goes on in every case."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.exc import OperationalError

from poolimport.core.config import Settings
from poolimport.core.models import Operator
from poolimport.sim import SimServer
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.router_form import RouterForm
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, routers_loaded


def shown(app: PoolImportApp, severity: str) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == severity]


async def test_a_refusal_raised_in_a_worker_is_one_warning(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    with engine.begin() as conn:
        conn.execute(update(Operator).where(Operator.name == "ops").values(role="viewer"))
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("t")  # a viewer may not test: the worker's core call raises AccessDenied
        await wait_until(pilot, lambda: shown(app, "warning"), what="the warning")
        await app.workers.wait_for_complete()
        assert shown(app, "warning") == ["ops is a viewer and may not test routers (the result is recorded)"]
        assert shown(app, "error") == [] and app.is_running


async def test_the_database_failing_a_worker_is_the_banner_and_a_notice(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_router(None, name="core", port=1)
    app = PoolImportApp(tui_settings)
    # The next poll, answered, clears the banner again: what it said is kept here for the test.
    banner_said: list[tuple[str, str | None]] = []
    set_problem = Banner.set_problem

    def said(banner: Banner, source: str, message: str | None) -> None:
        banner_said.append((source, message))
        set_problem(banner, source, message)

    def database_gone() -> list[str]:
        raise OperationalError("SELECT name FROM tenants", {}, Exception("database is locked"))

    monkeypatch.setattr(Banner, "set_problem", said)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        monkeypatch.setattr(app.data, "tenants", database_gone)
        await pilot.press("a")
        await wait_until(pilot, lambda: shown(app, "error"), what="the notice")
        assert shown(app, "error") == ["database error: database is locked"]  # no SQL
        assert ("database", "database is locked") in banner_said
        assert app.is_running and not isinstance(app.screen, RouterForm)


async def test_a_bug_in_a_worker_is_an_error_notice_and_the_app_stays_up(
    engine: Engine,
    tui_settings: Settings,
    add_router: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_router(None, name="core", port=1)
    app = PoolImportApp(tui_settings)
    broken = {"yes": True}
    real_tenants = app.data.tenants

    def tenants() -> list[str]:
        if broken["yes"]:
            raise KeyError("tenant")
        return real_tenants()

    monkeypatch.setattr(app.data, "tenants", tenants)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        with caplog.at_level(logging.ERROR, logger="poolimport.tui.presenter"):
            await pilot.press("a")
            await wait_until(pilot, lambda: shown(app, "error"), what="the error notice")
        assert shown(app, "error") == ["unexpected error: KeyError: 'tenant'"]
        assert [record.exc_info[0] for record in caplog.records if record.exc_info] == [KeyError]
        broken["yes"] = False
        await pilot.press("a")  # the session goes on: the same key works once the bug is gone
        await wait_until(pilot, lambda: isinstance(app.screen, RouterForm), what="the form")
        assert app.is_running
