"""`M`: the queue's figures and the failing routers, the same as `poolimport stats --json` says for the same
database, within the operator's tenants; enter on a router shows its jobs; a database gone is the banner."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from poolimport.core.config import Settings, load_settings
from poolimport.core.db import dispose_engines, session_scope
from poolimport.core.durations import describe_span
from poolimport.core.models import ImportJob, Operator, Router, Tenant, utcnow
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.main_screen import MainScreen
from poolimport.tui.components.metrics_screen import FailingTable, Figures, MetricsScreen
from poolimport.tui.components.queue_line import QueueLine
from tests.conftest import run_cli
from tests.tui.conftest import wait_until
from tests.tui.test_database_trouble import banner_text

SIZE = (80, 24)
FINISHED = ("succeeded", "failed", "partial", "cancelled")


def add_job(
    engine: Engine,
    router_id: int,
    status: str,
    ago: float,
    wait: float | None = None,
    error: str | None = None,
) -> None:
    """A job that finished (or started) `ago` seconds ago after `wait` seconds queued; without `wait`, one
    queued `ago` seconds ago."""
    now = utcnow()
    started = now - timedelta(seconds=ago) if wait is not None else None
    with engine.begin() as conn:
        tenant_id = conn.scalar(select(Router.tenant_id).where(Router.id == router_id))
        conn.execute(
            insert(ImportJob).values(
                router_id=router_id,
                tenant_id=tenant_id,
                requested_by="ops",
                status=status,
                queued_at=now - timedelta(seconds=ago + (wait or 0)),
                started_at=started,
                finished_at=started if status in FINISHED else None,
                heartbeat_at=started if status == "running" else None,
                time_limit=600,
                error=error,
            )
        )


@pytest.fixture
def fleet(engine: Engine, add_router: Callable[..., int]) -> dict[str, int]:
    """Two tenants' routers and jobs with known waits and failures."""
    ids = {
        "core": add_router(None, name="core", tenant="north", port=1),
        "edge": add_router(None, name="edge", tenant="north", port=1),
        "far": add_router(None, name="far", tenant="south", port=1),
    }
    add_job(engine, ids["core"], "failed", ago=120, wait=5, error="login to core failed: bad password")
    add_job(engine, ids["core"], "failed", ago=7200, wait=5, error="older: timed out")
    add_job(engine, ids["core"], "succeeded", ago=900, wait=2)
    add_job(engine, ids["edge"], "succeeded", ago=300, wait=10)
    add_job(engine, ids["edge"], "running", ago=2, wait=3)  # heard from: running, not stalled
    add_job(engine, ids["far"], "failed", ago=60, wait=1, error="south's router is down")
    add_job(engine, ids["far"], "queued", ago=630)
    add_job(engine, ids["core"], "running", ago=600, wait=1)  # not heard from for 10 minutes: stalled
    return ids


async def open_metrics(pilot: Any) -> MetricsScreen:
    app: PoolImportApp = pilot.app
    await pilot.press("M")
    screen = await wait_until(pilot, lambda: isinstance(app.screen, MetricsScreen) and app.screen, what="M")
    await wait_until(pilot, lambda: screen.query_one(Figures).shown, what="the figures")
    return screen


def failing_rows(screen: MetricsScreen) -> list[list[str]]:
    table = screen.query_one(FailingTable)
    return [[str(cell) for cell in table.get_row_at(n)] for n in range(table.row_count)]


async def test_the_figures_and_failing_routers_are_those_stats_json_prints(
    engine: Engine, tui_settings: Settings, fleet: dict[str, int]
) -> None:
    printed = run_cli("stats", "--json")
    assert printed.returncode == 0, printed.stderr
    cli = json.loads(printed.stdout)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metrics(pilot)
        shown = screen.query_one(Figures).shown
        assert shown == {
            "queued": str(cli["queued"]),
            "running": str(cli["running"]),
            "stalled": str(cli["stalled"]),
            "oldest wait": describe_span(cli["oldest_queued_seconds"]),
            "wait p50": describe_span(cli["wait_p50"]),
            "wait p95": describe_span(cli["wait_p95"]),
            "jobs/min": f"{cli['jobs_per_minute']:g}",
            "finished 1h": str(cli["finished_hour"]),
            "failed 1h": str(cli["failed_hour"]),
            "failure rate": f"{cli['failure_rate']:.0%}",
            "consumers alive": str(cli["consumers_alive"]),
        }
        # Known from the seed, so that equal can't mean equally wrong.
        assert (shown["queued"], shown["running"], shown["stalled"]) == ("1", "1", "1")
        assert shown["oldest wait"] == "10m"
        header = str(app.main_screen.query_one(QueueLine).render())
        assert "running 1 · stalled 1 ·" in header, header
        assert (shown["failed 1h"], shown["finished 1h"], shown["failure rate"]) == ("2", "4", "50%")
        expected = [
            [
                r["router"],
                r["tenant"],
                f"{r['failed_hour']}/{r['jobs_hour']} {r['failure_rate_hour']:.0%}",
                f"{r['failed_day']}/{r['jobs_day']} {r['failure_rate_day']:.0%}",
                r["newest_error"],
            ]
            for r in cli["failing_routers"]
        ]
        assert failing_rows(screen) == expected
        # Failed of finished, and the rate: core failed once of two in the hour, twice of three in the day.
        assert expected == [
            ["core", "north", "1/2 50%", "2/3 67%", "login to core failed: bad password"],
            ["far", "south", "1/1 100%", "1/1 100%", "south's router is down"],
        ]


async def test_a_tenant_operator_sees_only_their_tenants_figures_and_routers(
    engine: Engine, tui_settings: Settings, fleet: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(engine) as session:
        north = session.scalar(select(Tenant.id).where(Tenant.name == "north"))
        session.add(Operator(name="nora", tenant_id=north, role="operator"))
    monkeypatch.setenv("POOLIMPORT_OPERATOR", "nora")
    app = PoolImportApp(load_settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metrics(pilot)
        assert [row[:2] for row in failing_rows(screen)] == [["core", "north"]]
        shown = screen.query_one(Figures).shown
        assert (shown["queued"], shown["oldest wait"], shown["failed 1h"]) == ("0", "-", "1")


async def test_it_reads_again_while_open_and_closes_on_escape_or_q(
    engine: Engine, tui_settings: Settings, fleet: dict[str, int]
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metrics(pilot)
        add_job(engine, fleet["edge"], "failed", ago=5, wait=1, error="edge: no route to host")
        await wait_until(
            pilot, lambda: "edge" in [row[0] for row in failing_rows(screen)], what="a new failure, unasked"
        )
        await pilot.press("question_mark")
        help_screen = await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
        ids = {key.binding.id for key in help_screen.keys}
        assert {"metrics.back", "metrics.filter", "metrics"} <= ids
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="escape closes it")
        await open_metrics(pilot)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="q closes it")
        assert app.is_running


async def test_enter_on_a_failing_router_shows_its_jobs_on_the_main_screen(
    engine: Engine, tui_settings: Settings, fleet: dict[str, int]
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.main_screen.routers) == 3, what="routers")
        screen = await open_metrics(pilot)
        table = screen.query_one(FailingTable)
        await wait_until(pilot, lambda: table.row_count == 2, what="failing routers")
        table.select_key(str(fleet["far"]))
        table.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.main_screen.drill.router == "far", what="the drill into far")
        assert app.screen is app.main_screen


async def test_a_database_gone_is_the_banner_and_the_figures_come_back(
    engine: Engine, tui_settings: Settings, fleet: dict[str, int]
) -> None:
    database = tui_settings.home / "poolimport.db"
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_metrics(pilot)
        engine.dispose()
        dispose_engines()
        away = database.rename(database.with_suffix(".away"))
        # The screen's own line, or the app's "database unavailable" that stands for it.
        await wait_until(pilot, lambda: "unavailable" in banner_text(app), what="the banner")
        assert app.is_running and app.screen is screen
        dispose_engines()
        database.unlink(missing_ok=True)
        away.rename(database)
        add_job(engine, fleet["edge"], "failed", ago=5, wait=1, error="edge: no route to host")
        await wait_until(
            pilot, lambda: "edge" in [row[0] for row in failing_rows(screen)], what="figures once it is back"
        )
        await wait_until(pilot, lambda: "unavailable" not in banner_text(app), what="banner clears")
