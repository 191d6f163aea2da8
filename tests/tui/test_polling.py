"""The poll reads in a worker thread and touches no widget there: what it reads is decided on the event loop
and handed to it as plain values, and what it read comes back typed. The app builds its queue client and
its JobActions once, whatever the number of keys pressed."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from textual.app import App
from textual.dom import DOMNode

from poolimport.core.config import Settings
from poolimport.core.jobs.actions import JobActions
from poolimport.queue import app as queue_app
from poolimport.queue.consumer import PoolimportHuey
from poolimport.sim import SimServer
from poolimport.tui import data as tui_data
from poolimport.tui.app import PoolImportApp
from poolimport.tui.data import Data
from poolimport.tui.poll import PollRequest, poll
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, add_events, add_job, job_ids, routers_loaded, select_router


@pytest.fixture
def widget_reads_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every query of the DOM, and every look at the app's screens, made from another thread than the one
    the test (and so the app) runs on."""
    loop_thread = threading.get_ident()
    seen: list[str] = []

    def guard(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != loop_thread:
                seen.append(f"{name} from {threading.current_thread().name}")
            return original(self, *args, **kwargs)

        return guarded

    for name in ("query", "query_one"):
        monkeypatch.setattr(DOMNode, name, guard(name, getattr(DOMNode, name)))
    for name in ("screen", "screen_stack"):
        prop = getattr(App, name)
        monkeypatch.setattr(App, name, property(guard(name, prop.fget)))
    yield seen


async def test_the_poll_reads_no_widget_off_the_event_loop(
    engine: Engine,
    tui_settings: Settings,
    add_router: Callable[..., int],
    widget_reads_off_the_loop: list[str],
) -> None:
    job_id = add_job(engine, add_router(None, name="core", port=1))
    add_events(engine, job_id, 20)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        log = app.main_screen.log_pane
        await wait_until(pilot, lambda: len(log.event_ids) == 20, what="the log's tail")
        add_events(engine, job_id, 5, start=20)
        await wait_until(pilot, lambda: len(log.event_ids) == 25, what="the new events, by later polls")
        await routers_loaded(pilot, app, 1)
    assert widget_reads_off_the_loop == []


def test_a_poll_is_a_function_of_the_data_and_the_request(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    job_id = add_job(engine, add_router(None, name="core", port=1))
    add_events(engine, job_id, 3)
    data = Data(tui_settings)  # no app at all
    tail = poll(data, PollRequest(jobs_limit=10, log_job=job_id, routers=True))
    assert [job["id"] for job in tail.jobs] == [job_id]
    assert tail.routers is not None and [r["name"] for r in tail.routers] == ["core"]
    assert tail.tail is not None and [e["id"] for e in tail.tail.events] == [1, 2, 3]
    assert tail.events is None and tail.problem is None
    seen = tail.marks
    newer = poll(
        data, PollRequest(jobs_limit=10, log_job=job_id, log_after=2, marks=seen, routers_marks=seen)
    )
    assert newer.routers is None and newer.tail is None
    assert newer.events is not None and [e["id"] for e in newer.events] == [3]


async def test_one_queue_client_and_one_job_actions_serve_every_key(
    engine: Engine,
    tui_settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: Counter[str] = Counter()

    class CountedHuey(PoolimportHuey):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made["huey"] += 1
            super().__init__(*args, **kwargs)

    class CountedActions(JobActions):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made["job actions"] += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(queue_app, "PoolimportHuey", CountedHuey)
    monkeypatch.setattr(tui_data, "JobActions", CountedActions)
    names = ("a", "b", "c")
    for name in names:
        add_router(sim_factory(), name=name)  # no consumer: the jobs stay queued
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        for count, name in enumerate(names, 1):
            await select_router(pilot, app, name)
            await pilot.press("i")
            await wait_until(pilot, lambda n=count: len(job_ids(app)) == n, what=f"{count} jobs")
        await pilot.press("c")  # cancel, through the same JobActions and queue
        await wait_until(pilot, lambda: app.main_screen.jobs["3"]["status"] == "cancelled", what="cancelled")
    assert made == {"huey": 1, "job actions": 1}
