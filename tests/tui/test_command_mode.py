"""`:` on the main screen, as k9s has it: `:job`, `:router`, `:tenant`, `:failed`, `:all`, `:help`, typed into
the real app (Pilot) over a real database; what the operator may not see is "not found", like what isn't."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, update
from textual.keys import _character_to_key

from poolimport.core.access.audit import audit_rows, record
from poolimport.core.access.identity import Identity
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.models import ImportJob, Operator, Router, Tenant
from poolimport.core.routers.records import remove_router
from poolimport.tui.app import PoolImportApp
from poolimport.tui.command import HELP
from poolimport.tui.components.command_line import CommandLine
from poolimport.tui.components.filter_box import FilterBox
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.jobs_table import JobsTable
from poolimport.tui.components.main_screen import MainScreen
from poolimport.tui.components.routers_table import RoutersTable
from tests.conftest import ADMIN
from tests.integration.test_dismiss_and_retry_all import job
from tests.tui.conftest import notices, said, wait_until
from tests.tui.test_app import SIZE, job_ids, routers_loaded, shown_title


async def type_keys(pilot: Any, text: str) -> None:
    await pilot.press(*(_character_to_key(character) for character in text))


async def command(pilot: Any, line: str) -> None:
    """`:`, the line, enter."""
    await type_keys(pilot, ":" + line)
    await pilot.press("enter")
    await pilot.pause()


def router_names(app: PoolImportApp) -> list[str]:
    screen = app.main_screen
    return [screen.routers[str(row.value)]["name"] for row in app.query_one(RoutersTable).rows]


def jobs_title(app: PoolImportApp) -> str:
    return shown_title(app.query_one(JobsTable).border_title)


def world(engine: Engine, add_router: Callable[..., int]) -> dict[str, list[int]]:
    """north: core-1 (a failed job, then a succeeded one) and edge (a failed one); south: far (a failed
    one). Jobs by router name."""
    core, edge = (
        add_router(name="core-1", tenant="north", port=1),
        add_router(name="edge", tenant="north", port=1),
    )
    far = add_router(name="far", tenant="south", port=1)
    return {
        "core-1": [job(engine, core, "failed"), job(engine, core, "succeeded")],
        "edge": [job(engine, edge, "failed")],
        "far": [job(engine, far, "failed")],
    }


async def test_router_drills_into_its_jobs_and_escape_or_a_bare_router_comes_back(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    jobs = world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await wait_until(pilot, lambda: len(job_ids(app)) == 4, what="every job")

        await command(pilot, "router core-1")
        await wait_until(pilot, lambda: job_ids(app) == jobs["core-1"][::-1], what="core-1's jobs only")
        core = app.main_screen.routers[app.query_one(RoutersTable).selected_key or ""]
        assert core["name"] == "core-1" and "router core-1" in jobs_title(app)

        await pilot.press("escape")
        await wait_until(pilot, lambda: len(job_ids(app)) == 4, what="every job again (escape)")
        assert "router" not in jobs_title(app)

        await command(pilot, "router edge")
        await wait_until(pilot, lambda: job_ids(app) == jobs["edge"], what="edge's jobs only")
        await command(pilot, "router")
        await wait_until(pilot, lambda: len(job_ids(app)) == 4, what="every job again (:router)")


async def test_tenant_narrows_both_panes_failed_narrows_the_jobs_and_all_undoes_them(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    jobs = world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)

        await command(pilot, "tenant north")
        await wait_until(pilot, lambda: router_names(app) == ["core-1", "edge"], what="north's routers")
        north = sorted(jobs["core-1"] + jobs["edge"], reverse=True)
        await wait_until(pilot, lambda: job_ids(app) == north, what="north's jobs")

        await command(pilot, "failed")
        north_failed = [jobs["edge"][0], jobs["core-1"][0]]
        await wait_until(pilot, lambda: job_ids(app) == north_failed, what="north's failed jobs")
        assert "tenant north" in jobs_title(app) and "failed" in jobs_title(app)

        await command(pilot, "all")
        await wait_until(pilot, lambda: len(job_ids(app)) == 4, what="every job again")
        assert router_names(app) == ["core-1", "edge", "far"]


async def test_import_all_and_retry_all_act_on_what_the_drill_shows(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    jobs = world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await command(pilot, "tenant south")
        await wait_until(pilot, lambda: router_names(app) == ["far"], what="south's routers")

        await pilot.press("R")
        retry = await wait_until(
            pilot,
            lambda: [n for n in notices(app) if n.startswith("queued")],
            what=f"a retry: {notices(app)}",
            timeout=5,
        )
        with session_scope(engine) as session:
            retried = session.scalars(select(ImportJob.retry_of_id).where(ImportJob.retry_of_id.is_not(None)))
            assert list(retried) == jobs["far"], retry

        await command(pilot, "all")
        await command(pilot, "router far")
        before = len(notices(app))
        await pilot.press("I")
        said = await wait_until(pilot, lambda: notices(app)[before:], what="what I did")
        assert said == ["router far already has job #5 (queued)"], "far alone, already queued by R"
        with session_scope(engine) as session:
            queued = session.scalars(select(ImportJob.router_id).where(ImportJob.status == "queued"))
            assert set(queued) == {app.main_screen.drill.router_id}


async def test_job_opens_any_job_even_one_the_pane_does_not_hold(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    jobs = world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await command(pilot, "router edge")
        await wait_until(pilot, lambda: job_ids(app) == jobs["edge"], what="edge's jobs only")

        await command(pilot, f"job {jobs['far'][0]}")

        screen = await wait_until(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen)
        assert screen.job_id == jobs["far"][0]
        await wait_until(pilot, lambda: screen.detail is not None, what="the job read")


async def test_what_is_outside_the_tenancy_is_not_found_like_what_is_not_there(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    jobs = world(engine, add_router)
    with session_scope(engine) as session:
        north = session.scalar(select(Tenant.id).where(Tenant.name == "north"))
        session.add(Operator(name="nora", tenant_id=north, role="operator"))
    nora = dataclasses.replace(tui_settings, identity=Identity(tui_settings.identity.asker, "nora"))
    app = PoolImportApp(nora)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 2)
        for line, said in [
            (f"job {jobs['far'][0]}", f"no job #{jobs['far'][0]}"),
            ("job 999", "no job #999"),
            ("router far", "no router 'far'"),
            ("router nosuch", "no router 'nosuch'"),
            ("tenant south", "no tenant named 'south'"),
            ("tenant nosuch", "no tenant named 'nosuch'"),
        ]:
            await command(pilot, line)
            await app.workers.wait_for_complete()
            await wait_until(pilot, lambda said=said: said in notices(app), what=said)
        assert isinstance(app.screen, MainScreen)
        assert router_names(app) == ["core-1", "edge"] and "far" not in jobs_title(app)
        assert not [n for n in notices(app) if "unexpected" in n or "Traceback" in n]
    # Each refusal is recorded, as the CLI's are: probing another tenant's ids leaves a trace.
    with session_scope(engine) as session:
        refused = [
            (row["action"], row["detail"])
            for row in audit_rows(session, ADMIN)
            if row["outcome"] == "refused" and row["acting_as"] == "nora"
        ]
    assert sorted(refused) == sorted(
        [
            (":job", f"no job #{jobs['far'][0]}"),
            (":job", "no job #999"),
            (":router", "no router 'far'"),
            (":router", "no router 'nosuch'"),
            (":tenant", "no tenant named 'south'"),
            (":tenant", "no tenant named 'nosuch'"),
        ]
    )


async def test_help_and_an_unknown_command_list_the_commands(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(name="core-1", port=1)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        await command(pilot, "help")
        await command(pilot, "jbo 1")
        await said(pilot, f"no command `jbo`; {HELP}")
        assert notices(app) == [HELP, f"no command `jbo`; {HELP}"]
        assert not app.query_one(CommandLine).display  # enter ran it and closed the prompt


async def test_tab_completes_commands_and_names_and_escape_drops_the_line(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        line = app.query_one(CommandLine)
        await type_keys(pilot, ":ro")
        assert line.has_focus and line.value == ":ro"
        await wait_until(pilot, lambda: line._suggestion == ":router ", what="the suggestion")
        await pilot.press("tab")
        assert line.value == ":router " and line.has_focus  # tab completed, the focus stayed
        await type_keys(pilot, "co")
        await wait_until(pilot, lambda: line._suggestion == ":router core-1", what="the router's name")
        await pilot.press("tab")
        assert line.value == ":router core-1"
        await pilot.press("escape")
        assert not line.display and isinstance(app.focused, RoutersTable)
        assert len(app.main_screen.jobs) == 4  # nothing ran


async def test_tab_completes_a_tenant_that_has_no_router_yet(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    world(engine, add_router)
    with session_scope(engine) as session:
        session.add(Tenant(name="westnet"))
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        line = app.query_one(CommandLine)
        await type_keys(pilot, ":tenant we")
        await wait_until(pilot, lambda: line._suggestion == ":tenant westnet", what="the new tenant")
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: "tenant westnet" in jobs_title(app), what="the drill")
        assert job_ids(app) == [] and router_names(app) == []


async def test_a_drilled_name_that_looks_like_markup_is_shown_as_typed(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    """Any operator of a tenant names its routers and the tenant is named by an administrator: the title
    of an administrator's jobs pane shows them literally."""
    add_router(name="evil[/]", tenant="g[/]", port=1)
    add_router(name="b-[bold red]x[/]", tenant="g[/]", port=1)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 2)
        for line, title in [
            ("router evil[/]", "router evil[/]"),
            ("router b-[bold red]x[/]", "router b-[bold red]x[/]"),
            ("tenant g[/]", "tenant g[/]"),
        ]:
            await command(pilot, line)
            await wait_until(pilot, lambda title=title: title in jobs_title(app), what=title)
        assert not [n for n in notices(app) if "unexpected" in n]


async def test_the_log_lets_go_of_a_job_whose_router_was_removed(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    only = add_router(name="only", port=1)
    job(engine, only, "failed")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        screen = app.main_screen
        await wait_until(pilot, lambda: screen.log_pane.job_id is not None, what="the log of its job")
        with session_scope(engine) as session:
            remove_router(session, ADMIN, session.get(Router, only))
        await wait_until(pilot, lambda: job_ids(app) == [], what="its jobs gone")
        await wait_until(pilot, lambda: screen.log_pane.job_id is None, what="the log let go")


async def test_m_with_every_job_shown_says_so(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await wait_until(pilot, lambda: len(job_ids(app)) == 4, what="every job")
        app.main_screen.jobs_table.focus()
        await pilot.press("m")
        await said(pilot, "every job is shown: there are no older ones")


async def test_a_colon_typed_into_the_filter_stays_in_the_filter(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(name="core-1", port=1)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await type_keys(pilot, "/127.0.0.1:1")
        assert app.query_one(FilterBox).value == "127.0.0.1:1"
        assert not app.query_one(CommandLine).display
        assert app.query_one(RoutersTable).row_count == 1  # host:port matched


async def test_escape_in_the_line_drops_the_line_only_and_keeps_the_drill(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    jobs = world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await command(pilot, "router edge")
        await wait_until(pilot, lambda: job_ids(app) == jobs["edge"], what="edge's jobs only")
        await type_keys(pilot, ":fail")
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.main_screen.drill.router == "edge" and job_ids(app) == jobs["edge"]


async def test_a_job_queued_outside_the_view_is_said_and_the_log_stays_on_the_selected_row(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    jobs = world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await command(pilot, "failed")
        await wait_until(pilot, lambda: len(job_ids(app)) == 3, what="the failed jobs")
        app.query_one(RoutersTable).focus()
        await pilot.press("i")
        said = await wait_until(pilot, lambda: [n for n in notices(app) if "not in this view" in n])
        assert said[0].endswith("`0` or `:all` shows it")
        screen = app.main_screen
        await wait_until(
            pilot,
            lambda: screen.log_pane.job_id == int(screen.jobs_table.selected_key or 0),
            what="the log on the selected row",
        )
        assert screen.log_pane.job_id in {job for ids in jobs.values() for job in ids}


async def test_the_drill_follows_its_router_renamed_and_lets_go_of_it_removed(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    world(engine, add_router)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 3)
        await command(pilot, "router edge")
        await wait_until(pilot, lambda: "router edge" in jobs_title(app), what="the drill")
        edge = app.main_screen.drill.router_id
        with session_scope(engine) as session:  # as `router edit edge --name edge-2` does it: audited
            session.execute(update(Router).where(Router.id == edge).values(name="edge-2"))
            record(session, ADMIN, "router.edit", router_id=edge, subject="edge-2")
        await wait_until(pilot, lambda: "router edge-2" in jobs_title(app), what="the new name")

        with session_scope(engine) as session:
            remove_router(session, ADMIN, session.get(Router, edge))
        await wait_until(pilot, lambda: app.main_screen.drill.router_id is None, what="the drill let go")
        await said(pilot, "router edge-2 is gone: every router's jobs again")
