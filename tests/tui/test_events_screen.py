"""`L`: every job's events at once, newest at the bottom, each line with its job and router; it follows,
pauses when scrolled up, and enter opens the marked line's job. Only the operator's tenants' events.

Also the read under it, core's feed_rows.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, insert

from poolimport.core.access.tenancy import Scope
from poolimport.core.config import Settings, load_settings
from poolimport.core.db import session_scope
from poolimport.core.jobs.queries import feed_rows
from poolimport.core.models import JobEvent, Operator
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.events_screen import EventsScreen, FeedPane
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.main_screen import MainScreen
from tests.tui.conftest import wait_until
from tests.tui.sample_data import T0, seed

NORTH = Scope(operator="nora", tenant_ids=frozenset({1}), role="operator")  # northnet: jobs 1, 3 and 4


@pytest.fixture
def seeded(engine: Engine, tui_settings: Settings) -> Settings:
    seed(engine, tui_settings)
    return tui_settings


@pytest.fixture
def nora(engine: Engine, seeded: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An operator of northnet only."""
    with session_scope(engine) as session:
        session.add(Operator(name="nora", tenant_id=1, role="operator"))
    monkeypatch.setenv("POOLIMPORT_OPERATOR", "nora")
    return load_settings()


def add_event(engine: Engine, job_id: int, message: str, level: str = "info") -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(JobEvent).values(job_id=job_id, level=level, message=message, created_at=T0)
            ).inserted_primary_key[0]
        )


async def open_feed(pilot: Any) -> FeedPane:
    app: PoolImportApp = pilot.app
    await pilot.press("L")
    screen = await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen) and app.screen, what="L")
    pane = screen.query_one(FeedPane)
    await wait_until(pilot, lambda: pane.loaded, what="the events")
    return pane


def test_the_feed_is_every_job_of_the_scope_oldest_first_with_its_router(
    engine: Engine, seeded: Settings
) -> None:
    with session_scope(engine) as session:
        rows = feed_rows(session, NORTH, None, 3)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert len(rows) == 3 and {row["job_id"] for row in rows} <= {1, 3, 4}
    newest = rows[-1]["id"]
    later = add_event(engine, 2, "southwave's")  # another tenant's: never in nora's feed
    mine = add_event(engine, 4, "northnet's")
    with session_scope(engine) as session:
        after = feed_rows(session, NORTH, newest, 100)
        assert [row["id"] for row in after] == [mine] and after[0]["router"] == "core-pppoe"
        admin = Scope(operator="ops", tenant_ids=None)
        assert [row["id"] for row in feed_rows(session, admin, newest, 100)][-2:] == [later, mine]


async def test_l_tails_every_job_of_the_scope_pauses_when_scrolled_up_and_enter_opens_the_job(
    engine: Engine, nora: Settings
) -> None:
    app = PoolImportApp(nora)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_feed(pilot)
        text = pane.plain_text()
        assert "#1 core-pppoe: Job queued by ops" in text and "#4 core-pppoe:" in text
        assert "#2 " not in text and "branch-locked" not in text  # southwave's
        assert pane.follow and pane.has_focus
        add_event(engine, 2, "not nora's")
        new = add_event(engine, 3, "edge news")
        await wait_until(pilot, lambda: pane.event_ids[-1] == new, what="the new line")
        assert "#3 edge-v6: edge news" in pane.plain_text() and "not nora's" not in pane.plain_text()
        assert pane.mark == new and pane.scroll_y == pane.max_scroll_y  # following: at the newest
        await pilot.press("up")  # the line before: paused there
        assert not pane.follow and pane.mark == pane.event_ids[-2] and "paused" in str(pane.border_title)
        marked, place = pane.mark, pane.scroll_y
        newer = add_event(engine, 1, "while paused")
        await wait_until(pilot, lambda: pane.event_ids[-1] == newer, what="the line read while paused")
        assert pane.mark == marked and pane.scroll_y == place  # the view stayed put
        await pilot.press("enter")
        detail = await wait_until(
            pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen, what="the job"
        )
        assert detail.job_id == pane.job_of(marked)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EventsScreen), what="back to the events")
        await pilot.press("end")
        assert pane.follow and pane.mark == newer
        await pilot.press("pageup")  # the mark comes along into view
        assert not pane.follow and pane.mark is not None and pane.mark != newer
        line = pane.line_of(pane.mark)
        assert (
            line is not None and pane.scroll_y <= line < pane.scroll_y + pane.scrollable_content_region.height
        )
        await pilot.press("end")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back to the main screen")


async def test_an_event_committed_after_a_newer_one_was_shown_still_comes(
    engine: Engine, seeded: Settings
) -> None:
    """On PostgreSQL an id is taken at insert and seen at commit: an event can arrive after one with a
    higher id was shown. The feed reads a little behind the newest it shows, and shows each event once."""
    late = add_event(engine, 1, "reserved")  # its id, taken by a transaction still open
    add_event(engine, 1, "newer, committed first")
    with engine.begin() as conn:
        conn.execute(JobEvent.__table__.delete().where(JobEvent.id == late))
    app = PoolImportApp(seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await open_feed(pilot)
        await wait_until(pilot, lambda: "newer, committed first" in pane.plain_text(), what="the newer one")
        with engine.begin() as conn:
            conn.execute(
                insert(JobEvent).values(id=late, job_id=1, level="info", message="late", created_at=T0)
            )
        await wait_until(pilot, lambda: "late" in pane.plain_text(), what="the late one")
        add_event(engine, 1, "after it")
        await wait_until(pilot, lambda: "after it" in pane.plain_text(), what="the next one")
        assert pane.plain_text().count("newer, committed first") == 1
