"""Every key of poolimport-tui, driven through Pilot against a real database, simulators and a consumer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import OperationalError
from textual.content import Content
from textual.widgets import Input

from poolimport.core.access.audit import audit_rows
from poolimport.core.access.identity import Identity
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.events import EventKind
from poolimport.core.models import ImportJob, JobEvent, Operator, OperatorKey, Router, Tenant
from poolimport.core.statuses import JobStatus
from poolimport.sim import SimServer
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components import cells
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.log_pane import OLDER_EVENTS, TAIL_EVENTS, LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.router_form import RouterForm
from poolimport.tui.components.routers_table import RoutersTable
from tests.conftest import SLOW_ROW_DELAY, router_config, unavailable
from tests.helpers import QUEUE_KEYS, words
from tests.proxy import TcpProxy
from tests.tui.conftest import notices, wait_until
from tests.tui.sample_data import T0

SIZE = (160, 48)
REDIS_DB = 13  # only the keys of the queue named "poolimport" are touched
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
ENDED = ("succeeded", "partial", "failed", "cancelled")


def job_status(engine: Engine, job_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.scalar(select(ImportJob.status).where(ImportJob.id == job_id))


def job_ids(app: PoolImportApp) -> list[int]:
    return [int(row.value) for row in app.query_one(JobsTable).rows]  # type: ignore[arg-type]


def shown_title(title: str | None) -> str:
    """A border title as the operator sees it (Textual hands titles back as markup)."""
    return Content.from_markup(title or "").plain


def log_text(app: PoolImportApp) -> str:
    return app.query_one(LogPane).plain_text()


async def routers_loaded(pilot: Any, app: PoolImportApp, count: int) -> None:
    await wait_until(pilot, lambda: app.query_one(RoutersTable).row_count == count, what=f"{count} routers")


async def select_router(pilot: Any, app: PoolImportApp, name: str) -> None:
    table = app.query_one(RoutersTable)
    key = next(key for key, router in app.main_screen.routers.items() if router["name"] == name)
    table.select_key(key)
    await pilot.pause()


async def test_i_queues_at_once_selects_the_job_and_tails_its_log(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int], consumer: Any
) -> None:
    add_router(sim, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("i")
        await wait_until(pilot, lambda: job_ids(app) == [1], what="job #1 in the table")
        assert app.query_one(JobsTable).selected_key == "1"
        assert app.query_one(LogPane).job_id == 1
        await wait_until(pilot, lambda: job_status(engine, 1) in ENDED, what="job #1 to end")
        await wait_until(pilot, lambda: words(EventKind.JOB_SUCCEEDED) in log_text(app), what="log")
        assert "Job queued by ops" in log_text(app)
        assert words(EventKind.JOB_STARTED) in log_text(app)
        await wait_until(
            pilot, lambda: app.main_screen.routers["1"]["last_job_status"] == "succeeded", what="router row"
        )


async def test_second_import_of_a_busy_router_is_a_notice_not_a_crash(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")  # no consumer: the first job stays queued
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("i")
        await wait_until(pilot, lambda: job_ids(app) == [1], what="job #1")
        await pilot.press("i")
        await wait_until(
            pilot,
            lambda: any("already has job #1 (queued)" in n for n in notices(app)),
            what="refusal notice",
        )
        assert job_ids(app) == [1]


async def test_import_all_then_retry_and_retry_all_failed(
    engine: Engine,
    tui_settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    consumer: Any,
) -> None:
    add_router(sim_factory(), name="good")
    locked = sim_factory(router_config(faults={"refuse_logins": True}))
    add_router(locked, name="locked")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 2)
        await pilot.press("I")
        await wait_until(pilot, lambda: len(job_ids(app)) == 2, what="two jobs")
        await wait_until(
            pilot, lambda: {job_status(engine, 1), job_status(engine, 2)} <= set(ENDED), what="ends"
        )
        with engine.connect() as conn:
            failed = conn.scalar(select(ImportJob.id).where(ImportJob.status == "failed"))
        assert failed is not None
        app.query_one(JobsTable).select_key(str(failed))
        await pilot.press("r")
        await wait_until(pilot, lambda: 3 in job_ids(app), what="retry job #3")
        assert app.query_one(LogPane).job_id == 3
        await wait_until(pilot, lambda: job_status(engine, 3) in ENDED, what="job #3 to end")
        with engine.connect() as conn:
            retried = conn.execute(
                select(ImportJob.attempt, ImportJob.retry_of_id).where(ImportJob.id == 3)
            ).one()
        assert tuple(retried) == (2, failed)
        await pilot.press("R")
        await wait_until(pilot, lambda: 4 in job_ids(app), what="retry-all job #4")
        await wait_until(
            pilot, lambda: "login to" in log_text(app) or job_status(engine, 4) in ENDED, what="log"
        )


async def test_c_cancels_the_selected_running_job(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int], consumer: Any
) -> None:
    add_router(sim, name="core", timeout=60)
    sim.faults.row_delay = SLOW_ROW_DELAY  # the cancel lands while the read runs
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("i")
        await wait_until(pilot, lambda: job_status(engine, 1) == "running", what="job #1 running")
        await pilot.press("c")
        await wait_until(pilot, lambda: any("job #1 cancelling" in n for n in notices(app)), what="notice")
        await wait_until(pilot, lambda: job_status(engine, 1) == "cancelled", timeout=30, what="cancelled")


async def test_t_tests_the_selected_router(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("t")
        await wait_until(
            pilot, lambda: any("test-router, RouterOS 7.16.2" in n for n in notices(app)), what="ok"
        )
    with engine.connect() as conn:
        assert conn.scalar(select(Router.last_status)) == "ok"


async def test_a_adds_and_e_edits_a_router_with_a_masked_password(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("a")
        form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="form")
        assert form.query_one("#password", Input).password is True
        for field, value in {
            "name": "edge",
            "host": "127.0.0.1",
            "port": str(sim.port),
            "username": "admin",
        }.items():
            form.query_one(f"#{field}", Input).value = value
        form.query_one("#password", Input).focus()
        await pilot.press(*"s3cret-pw")
        await pilot.press("ctrl+t")
        await wait_until(
            pilot,
            lambda: "connected: test-router" in str(form.query_one("#form-status").render()),
            what="form test result",
        )
        await pilot.press("ctrl+s")
        await routers_loaded(pilot, app, 2)
        await select_router(pilot, app, "edge")
        await pilot.press("e")
        form = await wait_until(
            pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="edit form"
        )
        assert form.query_one("#name", Input).value == "edge"
        assert form.query_one("#password", Input).value == ""
        form.query_one("#name", Input).value = "edge-2"
        await pilot.press("ctrl+s")
        await wait_until(
            pilot,
            lambda: any(r["name"] == "edge-2" for r in app.main_screen.routers.values()),
            what="renamed",
        )
    with engine.connect() as conn:
        names = set(conn.scalars(select(Router.name)))
    assert names == {"core", "edge-2"}


async def test_slash_filters_the_focused_table_and_escape_clears(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    for name in ("alpha", "beta", "gamma"):
        add_router(sim, name=name)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await pilot.press("slash", *"bet")
        assert app.query_one(RoutersTable).row_count == 1
        await pilot.press("enter")
        assert app.focused is app.query_one(RoutersTable)
        assert app.query_one(RoutersTable).row_count == 1
        await pilot.press("slash", "escape")
        assert app.query_one(RoutersTable).row_count == 3


async def test_p_and_enter_browse_pools_and_addresses_by_status(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int], consumer: Any
) -> None:
    add_router(sim, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("i")
        await wait_until(pilot, lambda: job_status(engine, 1) == "succeeded", what="import")
        await pilot.press("p")
        pools = await wait_until(
            pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen, what="pools"
        )
        await wait_until(pilot, lambda: len(pools.pools) == 3, what="three pools")
        pppoe = next(key for key, pool in pools.pools.items() if pool["name"] == "pppoe")
        table = pools.query_one("#pools")
        table.select_key(pppoe)
        table.focus()
        await pilot.press("enter")
        addresses = await wait_until(
            pilot, lambda: isinstance(app.screen, AddressesScreen) and app.screen, what="addresses screen"
        )
        await wait_until(pilot, lambda: len(addresses.rows) == 100, what="100 addresses")
        await pilot.press("u")
        await wait_until(pilot, lambda: len(addresses.rows) == 2, what="used only")
        assert {row["owner"] for row in addresses.rows} == {"alice", "bob"}
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, PoolsScreen | AddressesScreen)


async def test_router_text_is_shown_literally(
    engine: Engine,
    tui_settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    consumer: Any,
) -> None:
    config = router_config()
    config["menus"]["/ip/pool"] = [
        {"name": "[bold red]x", "ranges": "10.0.0.1-10.0.0.2", "comment": "[/x] unbalanced"},
        {"name": "\x1b[31mred\x1b[0m", "ranges": "10.0.1.1"},
    ]
    add_router(sim_factory(config), name="[b]odd[/b]")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("i")
        await wait_until(pilot, lambda: job_status(engine, 1) in ENDED, what="import")
        await wait_until(
            pilot, lambda: "Pool [bold red]x" in log_text(app), what="literal pool name in the log"
        )
        await pilot.press("p")
        pools = await wait_until(
            pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen, what="pools"
        )
        await wait_until(pilot, lambda: len(pools.pools) == 3, what="three pools")
        table = pools.query_one("#pools")
        shown = {str(table.get_row(key)[0]) for key in pools.pools}
        assert {"[bold red]x", "\ufffd[31mred\ufffd[0m"} <= shown
        assert "\x1b" not in log_text(app)


async def test_question_mark_help_and_every_key_in_the_command_palette(
    engine: Engine, tui_settings: Settings
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for description in (
            "Import (i)",
            "Import all (I)",
            "Retry (r)",
            "Retry all failed (R)",
            "Cancel (c)",
            "Test (t)",
            "Add (a)",
            "Edit (e)",
            "Filter (/)",
        ):
            assert description in titles
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="palette")
        await pilot.press("escape")


async def test_f_toggles_follow_and_tab_moves_between_panes(engine: Engine, tui_settings: Settings) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(LogPane)
        assert log.follow
        await pilot.press("f")
        assert not log.follow and "paused" in str(log.border_title)
        await pilot.press("f")
        assert log.follow
        assert app.focused is app.query_one(RoutersTable)
        await pilot.press("tab")
        assert app.focused is app.query_one(JobsTable)
        await pilot.press("tab")
        assert app.focused is log
        await pilot.press("shift+tab")
        assert app.focused is app.query_one(JobsTable)


async def test_q_quits(engine: Engine, tui_settings: Settings) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
    assert app.return_code == 0


async def test_ten_thousand_jobs_stay_bounded_with_older_on_demand(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    router_id = add_router(None, name="busy", port=1)
    with engine.begin() as conn:
        conn.execute(
            insert(ImportJob),
            [
                {
                    "router_id": router_id,
                    "tenant_id": 1,
                    "requested_by": "ops",
                    "status": "succeeded",
                    "attempt": 1,
                    "dry_run": False,
                    "time_limit": 600,
                    "cancel_requested": False,
                    "pools_done": 1,
                    "pools_total": 1,
                    "addresses_done": 10,
                    "addresses_total": 10,
                }
                for _ in range(10_000)
            ],
        )
        assert conn.scalar(select(func.count()).select_from(ImportJob)) == 10_000
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query_one(JobsTable).row_count == 200, what="newest 200")
        assert job_ids(app)[0] == 10_000
        await pilot.press("m")
        await wait_until(pilot, lambda: app.query_one(JobsTable).row_count == 400, what="400 after m")


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    """A Redis queue the test can take away: the real server, through a proxy."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.delete(*QUEUE_KEYS)
    except redis.exceptions.ConnectionError as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {exc}")
    proxy = TcpProxy(("127.0.0.1", 6379)).start()
    yield proxy
    proxy.stop()
    client.delete(*QUEUE_KEYS)
    client.close()


async def test_unreachable_queue_is_a_banner_and_a_notice(
    engine: Engine,
    tui_settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    redis_proxy: TcpProxy,
) -> None:
    add_router(sim, name="core")
    settings = replace(tui_settings, queue_url=f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_DB}")
    app = PoolImportApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        redis_proxy.stop()
        await pilot.press("i")
        await wait_until(pilot, lambda: any("queue unreachable" in n for n in notices(app)), what="notice")
        banner = app.query_one(Banner)
        assert banner.display and "queue" in banner.problems
        redis_proxy.start()
        await wait_until(pilot, lambda: not banner.display, what="banner to clear when the queue answers")
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(ImportJob)) == 0  # no job without its message


async def test_database_trouble_is_a_banner_and_the_app_recovers(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    database = tui_settings.home / "poolimport.db"
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        banner = app.query_one(Banner)
        engine.dispose()
        from poolimport.core.db import dispose_engines

        dispose_engines()
        moved = database.rename(database.with_suffix(".away"))
        await wait_until(pilot, lambda: "database" in banner.problems, what="database banner")
        assert app.is_running
        dispose_engines()
        database.with_suffix(".db").unlink(missing_ok=True)
        moved.rename(database)
        await wait_until(pilot, lambda: "database" not in banner.problems, what="recovery")


def test_tui_without_a_schema_says_to_run_init(home: Any) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "poolimport.tui.app"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "error: the database has no schema yet: run `poolimport init`"


def add_events(engine: Engine, job_id: int, count: int, start: int = 0) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(JobEvent),
            [
                {"job_id": job_id, "level": "info", "message": f"line {n}", "created_at": T0}
                for n in range(start, start + count)
            ],
        )


def add_job(engine: Engine, router_id: int, status: str = "succeeded") -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(ImportJob).values(
                    router_id=router_id,
                    tenant_id=1,
                    requested_by="ops",
                    status=status,
                    queued_at=T0,
                    time_limit=600,
                )
            ).inserted_primary_key[0]
        )


async def test_a_hundred_thousand_log_lines_open_at_the_end_older_on_demand_and_keep_their_place(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    job_id = add_job(engine, add_router(None, name="chatty", port=1))
    add_events(engine, job_id, 100_000)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogPane)
        await wait_until(pilot, lambda: len(log.event_ids) == TAIL_EVENTS, what="the tail")
        assert log.plain_text().endswith("line 99999") and log.has_older
        assert log.scroll_y == log.max_scroll_y > 0  # following: at the newest line
        log.focus()
        await pilot.press("m")
        await wait_until(pilot, lambda: len(log.event_ids) == TAIL_EVENTS + OLDER_EVENTS, what="older page")
        assert log.event_ids == sorted(log.event_ids) and log.event_ids[-1] == 100_000
        assert not log.follow and "paused" in str(log.border_title)
        await pilot.press("pageup")
        place, top = log.scroll_y, log.event_ids[0]
        add_events(engine, job_id, 30, start=100_000)
        await wait_until(pilot, lambda: log.plain_text().endswith("line 100029"), what="new lines")
        assert log.scroll_y == place and log.event_ids[0] == top  # paused: the view did not move
        await pilot.press("end")
        assert log.follow and log.scroll_y == log.max_scroll_y


async def test_log_lines_are_rewrapped_when_the_terminal_is_resized(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    job_id = add_job(engine, add_router(None, name="r", port=1))
    with engine.begin() as conn:
        conn.execute(insert(JobEvent).values(job_id=job_id, level="error", message="x" * 150, created_at=T0))
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(LogPane)
        await wait_until(pilot, lambda: log.event_ids == [1], what="the event")
        assert log.virtual_size.height == 3  # 150 characters under a 23-column head in 77 columns
        await pilot.resize_terminal(200, 40)
        await wait_until(pilot, lambda: log.virtual_size.height == 1, what="one line at 200 columns")


async def test_a_thousand_routers_are_listed(engine: Engine, tui_settings: Settings) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Tenant).values(name="big"))
        conn.execute(
            insert(Router),
            [
                {
                    "tenant_id": 1,
                    "name": f"r{n:04d}",
                    "host": "192.0.2.1",
                    "port": 8728,
                    "username": "api",
                    "password_encrypted": b"x",
                }
                for n in range(1000)
            ],
        )
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await routers_loaded(pilot, app, 1000)
        await pilot.press("pagedown", "pagedown")
        assert app.query_one(RoutersTable).cursor_row > 5


async def test_markup_in_names_shows_literally_in_titles_and_forms(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="[/b]odd[bold red]", port=1)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("p")
        pools = await wait_until(pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen)
        assert shown_title(pools.query_one("#pools").border_title) == "Pools of [/b]odd[bold red]"
        await pilot.press("escape", "e")
        form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen)
        assert shown_title(form.query_one("#form-body").border_title) == "Edit router [/b]odd[bold red]"
        await pilot.press("slash")  # not on the main screen: the form has no table to filter
        await pilot.press("escape")
        await pilot.press("slash", *"[/x]")
        assert app.query_one(RoutersTable).row_count == 0
        await pilot.press("enter")
        assert shown_title(app.query_one(RoutersTable).border_subtitle) == "filter: [/x]"


async def test_a_database_error_in_a_screen_is_its_banner_not_a_crash(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_router(None, name="core", port=1)
    app = PoolImportApp(tui_settings)

    def broken(router_id: int) -> list[dict[str, Any]]:
        raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.data, "pools", broken)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("p")
        pools = await wait_until(pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen)
        banner = pools.query_one(Banner)
        await wait_until(pilot, lambda: "disk I/O error" in str(banner.render()), what="banner")
        assert app.is_running and app.screen is pools


async def test_an_operator_removed_while_a_screen_loads_is_the_banner_not_a_crash(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core", port=1)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        # This operator is removed meanwhile: every read is now refused.
        with engine.begin() as conn:
            conn.execute(delete(Operator).where(Operator.name == "ops"))
        await pilot.press("p")
        said = lambda: str(app.screen.query_one(Banner).render())  # noqa: E731
        await wait_until(pilot, lambda: "operator 'ops' is not registered" in said(), what="the banner")
        assert app.is_running and isinstance(app.screen, PoolsScreen)


async def test_a_key_removed_mid_session_is_the_banner_and_writes_are_refused_and_recorded(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    """A session that came in over SSH with a key: removing the key ends it as removing the operator does."""
    add_router(None, name="core", port=1)
    fingerprint = "SHA256:nora-laptop"
    with session_scope(engine) as session:
        nora = Operator(name="nora", tenant_id=None, role="operator")
        session.add(nora)
        session.flush()
        session.add(OperatorKey(operator_id=nora.id, fingerprint=fingerprint, public_key="ssh-ed25519 AAAA"))
    over_ssh = Identity("nora", origin="192.0.2.7", key=fingerprint)
    app = PoolImportApp(replace(tui_settings, identity=over_ssh))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        await select_router(pilot, app, "core")
        with engine.begin() as conn:
            conn.execute(delete(OperatorKey).where(OperatorKey.fingerprint == fingerprint))
        await pilot.press("i")
        said = lambda: str(app.screen.query_one(Banner).render())  # noqa: E731
        await wait_until(pilot, lambda: "this SSH key was removed" in said(), what="the banner")

        def refused() -> list[dict[str, Any]]:
            with session_scope(engine) as session:
                rows = audit_rows(session, Scope("auditor", None))
            return [row for row in rows if row["action"] == "import.queue" and row["outcome"] == "refused"]

        [row] = await wait_until(pilot, refused, what="the refusal in the audit")
        assert (row["actor"], row["origin"]) == ("nora", "192.0.2.7")
        assert "this SSH key was removed" in row["detail"]
        assert app.is_running
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ImportJob)) == 0


async def test_viewer_is_told_why_not(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core", port=1)
    with engine.begin() as conn:
        conn.execute(update(Operator).where(Operator.name == "ops").values(role="viewer"))
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("i")
        await wait_until(
            pilot, lambda: any("ops is a viewer and may not start imports" in n for n in notices(app))
        )
        assert app.is_running


async def test_no_color_keeps_statuses_readable(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    router_id = add_router(None, name="core", port=1)
    for status in ("failed", "cancelled", "succeeded"):
        add_job(engine, router_id, status)
    monkeypatch.setenv("NO_COLOR", "1")
    app = PoolImportApp(tui_settings)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(JobsTable)
        await wait_until(pilot, lambda: table.row_count == 3)
        shown = {str(table.get_row(str(n))[2]) for n in (1, 2, 3)}
        # The CLI's words; failures stand out by weight and reverse video, which NO_COLOR keeps.
        assert shown == {"failed", "cancelled", "succeeded"}
        assert "bold" in str(cells.status("failed").style)
        assert "reverse" in str(cells.status("stalled").style)


@pytest.mark.parametrize("status", list(JobStatus))
def test_the_tui_shows_the_clis_status_words(status: JobStatus) -> None:
    assert cells.status(status).plain == status.value


async def test_edit_form_tests_the_stored_password_when_none_is_typed(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("e")
        form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen)
        await pilot.press("ctrl+t")
        await wait_until(
            pilot,
            lambda: "connected: test-router" in str(form.query_one("#form-status").render()),
            what="form test result",
        )


async def test_edit_form_tests_the_stored_password_of_the_router_by_id_not_by_name(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    # Router #1 is *named* "2" and has the wrong password; router #2 has the right one.
    add_router(sim, name="2", password="not-the-password")
    second = add_router(sim, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 2)
        app.query_one(RoutersTable).select_key(str(second))
        await pilot.press("e")
        form = await wait_until(pilot, lambda: isinstance(app.screen, RouterForm) and app.screen)
        await pilot.press("ctrl+t")
        status = form.query_one("#form-status")
        await wait_until(pilot, lambda: str(status.render()) not in ("", "testing…"), what="test result")
        assert "connected: test-router" in str(status.render())
