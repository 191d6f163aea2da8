"""Searching a job's log (`/`, `n`, `N`) and jumping between its warnings and errors (`]`, `[`), in the log
pane and in the job detail: found in the database, in the whole log, not only in the lines loaded.

Also the reads under them: core's event_matches and notable_event_id, scoped like every other read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update

from poolimport.core.access.tenancy import Scope
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.jobs.queries import event_matches, notable_event_id
from poolimport.core.models import JobEvent
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.log_pane import TAIL_EVENTS, LogPane
from poolimport.tui.components.log_search import SearchBox
from tests.tui.conftest import wait_until
from tests.tui.sample_data import T0, seed
from tests.tui.test_app import add_job

NORTH = Scope(operator="nora", tenant_ids=frozenset({1}), role="operator")  # northnet: routers 1 and 2
LINES = 5000
# Event ids in the big job (its events come after the seeded ones): 1-based line numbers, offset.
FIRST = "found NEEDLE_% at line 10"
DECOY = "needleA% at line 20: `_` is no wildcard"
SECOND = "a needle_%b at line 4000"


def add_log(engine: Engine, job_id: int, special: dict[int, tuple[str, str]]) -> int:
    """LINES events in one insert, `special` lines (n -> level, message) among them; the first event's id."""
    with engine.begin() as conn:
        first = int(
            conn.execute(
                insert(JobEvent).values(job_id=job_id, level="info", message="line 0", created_at=T0)
            ).inserted_primary_key[0]
        )
        conn.execute(
            insert(JobEvent),
            [
                {
                    "job_id": job_id,
                    "level": special.get(n, ("info", ""))[0],
                    "message": special.get(n, ("", f"line {n}"))[1],
                    "created_at": T0,
                }
                for n in range(1, LINES)
            ],
        )
    return first


@pytest.fixture
def big_job(engine: Engine, tui_settings: Settings, add_router: Callable[..., int]) -> tuple[int, int]:
    """A job of LINES lines; the needles and the warnings far above the tail a job opens at."""
    job_id = add_job(engine, add_router(None, name="chatty", port=1))
    special = {
        10: ("info", FIRST),
        20: ("info", DECOY),
        100: ("warning", "pool p: 3 entries ignored"),
        4000: ("info", SECOND),
        4200: ("error", "Pool q: failed: bad address"),
    }
    return job_id, add_log(engine, job_id, special)


def visible(log: LogPane, event_id: int) -> bool:
    """The event's first line is within the pane's view."""
    line = log.line_of(event_id)
    return line is not None and log.scroll_y <= line < log.scroll_y + log.scrollable_content_region.height


def said(log: LogPane) -> str:
    return str(log.border_subtitle)


async def search(pilot: Any, log: LogPane, text: str) -> None:
    log.focus()
    await pilot.press("slash")
    box = await wait_until(pilot, lambda: next(iter(pilot.app.screen.query(SearchBox)), None), what="box")
    assert box.has_focus
    await pilot.press(*text, "enter")


async def landed(pilot: Any, log: LogPane, event_id: int, words: str) -> None:
    await wait_until(
        pilot,
        lambda: log.mark == event_id and visible(log, event_id) and words in said(log),
        what=f"event {event_id} shown, marked, and {words!r} said (now: {said(log)!r})",
    )


# -- core ----------------------------------------------------------------------------------------------


def test_a_search_matches_its_text_literally_in_any_case_within_the_scope(
    any_engine: Engine, any_settings: Settings
) -> None:
    engine = any_engine  # SQLite and PostgreSQL: LIKE's escape and case differ between them
    seed(engine, any_settings)
    with engine.begin() as conn:
        conn.execute(
            insert(JobEvent),
            [
                {"job_id": 1, "level": "info", "message": "50% done", "created_at": T0},
                {"job_id": 1, "level": "info", "message": "500 done", "created_at": T0},
                {"job_id": 1, "level": "info", "message": "a_b", "created_at": T0},
                {"job_id": 1, "level": "info", "message": "axb", "created_at": T0},
            ],
        )
    with session_scope(engine) as session:
        assert len(event_matches(session, NORTH, 1, "0% D")) == 1  # `%` is a percent sign; any case
        assert len(event_matches(session, NORTH, 1, "A_B")) == 1  # `_` is an underscore
        # The line says the error stored beside the message: it is found.
        admin = Scope(operator="ops", tenant_ids=None)
        assert len(event_matches(session, admin, 2, "INVALID USER NAME")) == 1
        assert event_matches(session, admin, 2, "error") == []  # a key of the data, not in the line
        assert event_matches(session, NORTH, 2, "failed") == []  # southwave's job
        assert event_matches(session, NORTH, 1, "") == []


def test_the_next_warning_or_error_is_found_either_way_within_the_scope(
    engine: Engine, tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    job_id, first = big_job
    with session_scope(engine) as session:
        assert notable_event_id(session, NORTH, job_id, first, forward=True) == first + 100
        assert notable_event_id(session, NORTH, job_id, first + 100, forward=True) == first + 4200
        assert notable_event_id(session, NORTH, job_id, first + 4200, forward=True) is None
        assert notable_event_id(session, NORTH, job_id, first + LINES, forward=False) == first + 4200
        other = Scope(operator="sam", tenant_ids=frozenset({2}), role="operator")
        assert notable_event_id(session, other, job_id, first, forward=True) is None


# -- the log pane --------------------------------------------------------------------------------------


async def test_a_search_finds_lines_far_outside_the_loaded_window_and_n_and_shift_n_go_round(
    tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    job_id, first = big_job
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.main_screen.log_pane
        await wait_until(pilot, lambda: len(log.event_ids) == TAIL_EVENTS, what="the tail")
        assert first + 4000 not in log.event_ids and first + 10 not in log.event_ids
        await search(pilot, log, "NEEDLE_%")
        # Following the tail, a search looks back: the newest match first.
        await landed(pilot, log, first + 4000, "match 2 of 2")
        assert not log.follow and log.has_focus
        assert "needle_%" in log.highlighted(first + 4000)
        await pilot.press("n")  # past the last match: round to the first
        await landed(pilot, log, first + 10, "match 1 of 2")
        assert "NEEDLE_%" in log.highlighted(first + 10)
        assert first + 20 in log.event_ids and log.highlighted(first + 20) == []  # `_` matched literally
        await pilot.press("n")
        await landed(pilot, log, first + 4000, "match 2 of 2")
        await pilot.press("N")
        await landed(pilot, log, first + 10, "match 1 of 2")
        await pilot.press("end")  # following again: the tail is read again
        await wait_until(pilot, lambda: log.event_ids[-1] == first + LINES - 1, what="the tail again")
        assert log.follow


async def test_no_match_is_said_and_escape_keeps_the_log_as_it_was(
    tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.main_screen.log_pane
        await wait_until(pilot, lambda: len(log.event_ids) == TAIL_EVENTS, what="the tail")
        await search(pilot, log, "no such words")
        await wait_until(pilot, lambda: "no match" in said(log), what="no match")
        assert log.mark is None and log.follow
        log.focus()
        await pilot.press("slash", "x", "escape")
        await wait_until(pilot, lambda: log.has_focus, what="the log focused again")
        assert not app.screen.query_one(SearchBox).display and "no such words" in said(log)


async def test_slash_filters_the_focused_table_and_searches_the_focused_log(
    tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.main_screen.log_pane
        await wait_until(pilot, lambda: log.loaded, what="the tail")
        app.main_screen.jobs_table.focus()
        await pilot.press("slash")
        assert app.screen.query_one(FilterBox).has_focus
        assert not app.screen.query(SearchBox) or not app.screen.query_one(SearchBox).display
        await pilot.press("escape")
        log.focus()
        await pilot.press("slash")
        assert app.screen.query_one(SearchBox).has_focus
        assert not app.screen.query_one(FilterBox).display


async def test_brackets_go_to_the_next_and_previous_warning_or_error_in_the_whole_log(
    tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    job_id, first = big_job
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        log = app.main_screen.log_pane
        await wait_until(pilot, lambda: len(log.event_ids) == TAIL_EVENTS, what="the tail")
        log.focus()
        await pilot.press("right_square_bracket")  # at the newest line: none after
        await wait_until(pilot, lambda: "no warning or error after" in said(log), what="none after")
        await pilot.press("left_square_bracket")
        await landed(pilot, log, first + 4200, "error")
        await pilot.press("left_square_bracket")
        await landed(pilot, log, first + 100, "warning")
        await pilot.press("right_square_bracket")
        await landed(pilot, log, first + 4200, "error")


async def test_brackets_start_from_the_lines_in_view_once_the_operator_scrolled_away(
    tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    """As lnav: the line last landed on counts while it is in view; scrolled away, the view does."""
    job_id, first = big_job
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        log = app.main_screen.log_pane
        await wait_until(pilot, lambda: len(log.event_ids) == TAIL_EVENTS, what="the tail")
        log.focus()
        await pilot.press("left_square_bracket")
        await landed(pilot, log, first + 4200, "error")
        await pilot.press("home")
        await wait_until(pilot, lambda: not visible(log, first + 4200), what="scrolled away from it")
        await pilot.press("right_square_bracket")
        await landed(pilot, log, first + 4200, "error")  # the next after the view's top: it, again


async def test_the_help_lists_the_log_keys_and_a_keymap_rebinds_them(
    tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    (tui_settings.home / "config.toml").write_text('[keymap]\n"log.next" = "j"\n')
    from poolimport.core.config import load_settings

    app = PoolImportApp(load_settings())
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        log = app.main_screen.log_pane
        await wait_until(pilot, lambda: log.loaded, what="the tail")
        await pilot.press("question_mark")
        help_screen = await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
        keys = {key.binding.id: key.keys for key in help_screen.keys}
        assert keys["log.search"] == "/" and keys["log.next"] == "j" and keys["log.previous"] == "N"
        assert keys["log.next_notable"] == "]" and keys["log.previous_notable"] == "["
        assert keys["filter"] == "/"  # the tables' filter, with the routers focused
        await pilot.press("escape")
        log.focus()
        await pilot.press("question_mark")
        help_screen = await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
        keys = {key.binding.id: key.keys for key in help_screen.keys}
        assert keys["log.search"] == "/" and "filter" not in keys  # the log's search takes `/`


# -- the job detail ------------------------------------------------------------------------------------


async def test_the_job_detail_searches_its_whole_log_too(
    engine: Engine, tui_settings: Settings, big_job: tuple[int, int]
) -> None:
    job_id, first = big_job
    with engine.begin() as conn:
        conn.execute(update(JobEvent).where(JobEvent.id == first + 30).values(message="Say 50%_ done"))
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(JobDetailScreen(job_id))
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.detail and app.screen
        )
        log = screen.log_pane
        await wait_until(pilot, lambda: len(log.event_ids) == TAIL_EVENTS, what="the tail")
        await search(pilot, log, "50%_")
        await landed(pilot, log, first + 30, "match 1 of 1")
        await pilot.press("left_square_bracket")  # from the match: none before it
        await wait_until(pilot, lambda: "no warning or error before" in said(log), what="none before")
        await pilot.press("right_square_bracket")
        await landed(pilot, log, first + 100, "warning")
        await pilot.press("end")  # an ended job's tail is read again all the same
        await wait_until(pilot, lambda: log.event_ids[-1] == first + LINES - 1, what="the tail again")
        assert log.follow and log.scroll_y == log.max_scroll_y
