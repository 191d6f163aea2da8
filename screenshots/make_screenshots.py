"""Regenerate screenshots/*.svg from the demo: the same simulated routers, a real consumer, real imports.

.venv/bin/python screenshots/make_screenshots.py      (or: make screenshots)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZE = (120, 34)


async def wait_until(pilot: Any, condition: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        await pilot.pause(0.05)
    raise RuntimeError(f"timed out waiting for {condition}")


async def shoot(app: Any, sims: dict[str, Any]) -> None:
    from poolimport.tui.components.addresses_screen import AddressesScreen
    from poolimport.tui.components.pools_screen import PoolsScreen

    def save(name: str) -> None:
        app.save_screenshot(f"{name}.svg", str(HERE))
        print(f"screenshots/{name}.svg")

    def jobs() -> dict[str, dict[str, Any]]:
        return {job["router"]: job for job in app.data.jobs()}

    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.main_screen.routers_table.row_count == 3)
        await pilot.press("I")
        await wait_until(pilot, lambda: len(jobs()) == 3 and jobs()["branch-locked"]["status"] == "failed")
        core = jobs()["core-pppoe"]
        app.main_screen.jobs_table.select_key(str(core["id"]))
        # Caught while it writes the /16 (a couple of seconds; the UI polls once a second). On SQLite the
        # bar moves as the progress file beside the database does.
        await wait_until(
            pilot, lambda: jobs()["core-pppoe"]["status"] == "running" and jobs()["core-pppoe"]["pools_total"]
        )
        await pilot.pause(1.1)
        save("main-live-import")
        await wait_until(pilot, lambda: jobs()["core-pppoe"]["status"] == "succeeded")
        app.main_screen.jobs_table.select_key(str(jobs()["branch-locked"]["id"]))
        await pilot.pause(1.0)
        save("log-failed-job")
        await pilot.press("r")
        await wait_until(pilot, lambda: any(job["attempt"] == 2 for job in app.data.jobs()))
        await pilot.pause(1.5)
        save("retry")
        await console_views(pilot, app, save, jobs)
        table = app.main_screen.routers_table
        table.select_key(next(key for key, r in app.main_screen.routers.items() if r["name"] == "core-pppoe"))
        await pilot.press("p")
        pools = await wait_until(
            pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen.pools and app.screen
        )
        await pilot.pause(0.3)
        save("pools")
        pools.query_one("#pools").select_key(next(k for k, p in pools.pools.items() if p["name"] == "pppoe"))
        pools.query_one("#pools").focus()
        await pilot.press("enter")
        addresses = await wait_until(pilot, lambda: isinstance(app.screen, AddressesScreen) and app.screen)
        await pilot.press("u")
        await wait_until(pilot, lambda: addresses.status == "used" and addresses.rows)
        await pilot.pause(0.3)
        save("addresses-used")
        await pilot.press("escape", "escape", "a")
        await pilot.pause(0.5)
        save("router-form")
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.3)
        save("help")


async def console_views(
    pilot: Any, app: Any, save: Callable[[str], None], jobs: Callable[[], dict[str, dict[str, Any]]]
) -> None:
    """The operator console: a failed job in full, the consumers, every job's events, a log searched, the
    failed view with a job marked, and the `:` line."""
    from poolimport.tui.components.events_screen import EventsScreen
    from poolimport.tui.components.job_detail import JobDetailScreen
    from poolimport.tui.components.log_pane import LogPane
    from poolimport.tui.components.metrics_screen import MetricsScreen
    from poolimport.tui.components.workers_screen import WorkersScreen

    screen = app.main_screen
    failed = next(job for job in app.data.jobs() if job["router"] == "branch-locked" and job["attempt"] == 1)
    screen.jobs_table.select_key(str(failed["id"]))
    screen.jobs_table.focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.detail)
    await pilot.pause(0.5)
    save("job-detail")
    await pilot.press("escape", "W")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, WorkersScreen) and app.screen.query("DataTable").first().row_count,
    )
    await pilot.pause(0.3)
    save("workers")
    await pilot.press("escape", "M")
    await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, MetricsScreen)
            and "branch-locked" in str(app.screen.query_one("DataTable").get_row_at(0))
        ),
    )
    await pilot.pause(0.3)
    save("metrics")
    await pilot.press("escape", "L")
    await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, EventsScreen)
            and "core-pppoe" in app.screen.query_one(LogPane).plain_text()
        ),
    )
    await pilot.pause(0.3)
    save("events")
    await pilot.press("escape")
    screen.jobs_table.select_key(str(jobs()["core-pppoe"]["id"]))
    await pilot.pause(1.1)
    screen.log_pane.focus()
    await pilot.press("slash", *"pool", "enter")
    await pilot.pause(0.5)
    save("log-search")
    await pilot.press("escape")
    screen.jobs_table.focus()
    await pilot.press("1")
    await wait_until(
        pilot, lambda: screen.jobs and all(job["status"] == "failed" for job in screen.jobs.values())
    )
    await pilot.press("space")
    await pilot.press("colon", *"job ")
    await pilot.pause(0.3)
    save("failed-marked-command")
    await pilot.press("escape", "0")
    screen.jobs_table.clear_marks()
    await pilot.pause(1.1)


def main() -> int:
    from poolimport.cli import demo
    from poolimport.queue.process import spawn_worker, stop_worker
    from poolimport.sim import SimServer
    from poolimport.sim.demo_routers import demo_configs
    from poolimport.tui.app import PoolImportApp

    configs = demo_configs()
    with tempfile.TemporaryDirectory() as home, ExitStack() as stack:
        os.environ.update({"POOLIMPORT_HOME": home, "POOLIMPORT_OPERATOR": "ops"})
        sims = {name: stack.enter_context(SimServer(configs[name], port=0)) for name in demo.DEMO_ROUTERS}
        demo.seed(sims)
        from poolimport.core.config import load_settings

        settings = load_settings()
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        consumer = spawn_worker(2)
        stack.callback(stop_worker, consumer)
        asyncio.run(shoot(PoolImportApp(settings), sims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
