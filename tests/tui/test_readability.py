"""What a new operator reads: forms that keep what was typed when a save fails, an empty installation
that says what to do first, an unregistered operator told why and by whom to be registered, statuses that
read without colour, notices that leave the log readable, and footers with each screen's own keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rich.style import Style
from sqlalchemy import Engine, select
from textual.color import Color
from textual.geometry import Region
from textual.widgets import Input, Select
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

from poolimport.core.config import Settings, load_settings
from poolimport.core.db import session_scope
from poolimport.core.models import AuditEvent, Operator, Router, Tenant
from poolimport.tui.app import PoolImportApp, main
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.audit_screen import AuditScreen
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.job_detail import JobDetailScreen
from poolimport.tui.components.log_pane import LogPane
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.router_form import RouterForm
from poolimport.tui.components.tenant_form import TenantForm
from poolimport.tui.components.workers_screen import WorkersScreen
from tests.tui.conftest import notices, said, wait_until
from tests.tui.sample_data import seed
from tests.tui.test_app import SIZE, routers_loaded, select_router
from tests.tui.test_snapshots import loaded as snapshot_loaded

NARROW = (80, 24)


def screen_text(app: PoolImportApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def audited(engine: Engine, action: str, outcome: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.outcome == outcome)
        ).all()
        session.expunge_all()
        return list(rows)


def form_status(form: Any) -> str:
    return str(form.query_one("#form-status").render())


def typed(form: Any, values: dict[str, str]) -> None:
    for widget_id, value in values.items():
        form.query_one(f"#{widget_id}", Input).value = value


def values_of(form: Any, ids: Any) -> dict[str, str]:
    return {widget_id: form.query_one(f"#{widget_id}", Input).value for widget_id in ids}


async def open_screen(pilot: Any, key: str, kind: type) -> Any:
    await pilot.press(key)
    return await wait_until(
        pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen, what=kind.__name__
    )


# -- 1. a failed save keeps the form, and what was typed ----------------------------------------------


async def test_adding_a_router_whose_name_is_taken_keeps_the_form_and_says_why_in_it(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        form = await open_screen(pilot, "a", RouterForm)
        entered = {"name": "core", "host": "10.0.0.9", "username": "api", "password": "typed"}
        typed(form, entered)
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: "already has a router named 'core'" in form_status(form), what="error"
        )
        assert app.screen is form and form.query_one("#form-status").has_class("error")
        assert values_of(form, entered) == entered
        assert form.query_one("#tenant", Select).value == "acme"
        assert not any("already has a router" in n for n in notices(app))  # said once: in the form
        assert audited(engine, "router.add", "refused")

        form.query_one("#name", Input).value = "core-2"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, RouterForm), what="the form to close")
        await said(pilot, "router core-2 saved")
    with session_scope(engine) as session:
        assert session.scalar(select(Router.host).where(Router.name == "core-2")) == "10.0.0.9"


async def test_editing_a_router_to_a_taken_name_keeps_the_form_and_what_was_typed(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")
    edge = add_router(None, name="edge")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 2)
        await select_router(pilot, app, "edge")
        form = await open_screen(pilot, "e", RouterForm)
        typed(form, {"name": "core", "timeout": "9"})
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: "already has a router named 'core'" in form_status(form), what="error"
        )
        assert app.screen is form
        assert values_of(form, ("name", "timeout")) == {"name": "core", "timeout": "9"}
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RouterForm), what="the form to close")
    with session_scope(engine) as session:
        router = session.get(Router, edge)
        assert router is not None and (router.name, router.timeout) == ("edge", 3.0)


# -- 2. an empty installation says what to do first, and the TUI adds a tenant -------------------------


async def test_with_no_tenant_a_offers_the_tenant_form_then_the_router_form(
    engine: Engine, tui_settings: Settings
) -> None:
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: "No routers yet: press a to add one" in screen_text(app),
            what="the routers pane saying what to do",
        )
        form = await open_screen(pilot, "a", TenantForm)
        assert "no tenants yet" in screen_text(app).lower()
        typed(form, {"tenant-name": "acme"})
        await pilot.press("ctrl+s")
        router_form = await wait_until(
            pilot, lambda: isinstance(app.screen, RouterForm) and app.screen, what="the router form"
        )
        assert router_form.query_one("#tenant", Select).value == "acme"
        await said(pilot, "tenant acme added")
    with session_scope(engine) as session:
        assert session.scalar(select(Tenant.name)) == "acme"
    assert audited(engine, "tenant.add", "ok")


async def test_capital_t_adds_a_tenant_and_a_taken_name_keeps_the_form(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")  # tenant acme
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        form = await open_screen(pilot, "T", TenantForm)
        typed(form, {"tenant-name": "acme"})
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "tenant 'acme' already exists" in form_status(form), what="error")
        assert app.screen is form and values_of(form, ["tenant-name"]) == {"tenant-name": "acme"}
        typed(form, {"tenant-name": "globex"})
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, TenantForm), what="the form to close")
    with session_scope(engine) as session:
        assert sorted(session.scalars(select(Tenant.name))) == ["acme", "globex"]


async def test_a_non_administrator_is_refused_adding_a_tenant_once_and_it_is_audited(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_router(None, name="core")
    with session_scope(engine) as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.name == "acme"))
        session.add(Operator(name="nina", tenant_id=tenant_id, role="operator"))
    monkeypatch.setenv("POOLIMPORT_OPERATOR", "nina")
    app = PoolImportApp(load_settings())
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("T")
        await wait_until(pilot, lambda: notices(app), what="the refusal")
        assert notices(app) == ["only an administrator may add tenants"]
        assert not isinstance(app.screen, TenantForm)
    assert [row.acting_as for row in audited(engine, "tenant.add", "refused")] == ["nina"]


# -- 3. an operator who isn't registered ------------------------------------------------------------


def test_the_tui_started_by_an_unregistered_operator_says_how_to_register_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POOLIMPORT_OPERATOR", "ghost")
    with pytest.raises(SystemExit) as ended:
        main(load_settings())
    message = str(ended.value.code)
    assert message.startswith("error: operator 'ghost' is not registered")
    assert "`poolimport operator add ghost --tenant TENANT`" in message


async def test_an_operator_unregistered_in_a_session_sees_one_banner_until_registered(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        with session_scope(engine) as session:
            session.query(Operator).filter_by(name="ops").delete()
        banner = app.main_screen.query_one(Banner)
        await wait_until(pilot, lambda: "not registered" in str(banner.render()), what="the banner")
        said = str(banner.render())
        assert (
            "operator 'ops' is not registered" in said
            and "`poolimport operator add ops --tenant TENANT`" in said
        )
        assert not [n for n in notices(app) if "not registered" in n]
        with session_scope(engine) as session:
            session.add(Operator(name="ops", tenant_id=None, role="admin"))
        await wait_until(pilot, lambda: not banner.display, what="the banner to go")


# -- 4. without colour (NO_COLOR), trouble still stands out ----------------------------------------


def readable(style: Style) -> float:
    """How far apart a segment's text and background are in brightness, as drawn (reverse swaps them)."""
    fg = Color.from_rich_color(style.color) if style.color else Color(224, 224, 224)
    bg = Color.from_rich_color(style.bgcolor) if style.bgcolor else Color(0, 0, 0)
    return abs(fg.brightness - bg.brightness)


def segments(app: PoolImportApp, text: str) -> list[Style]:
    """The style of every drawn segment whose text, stripped, starts with `text`."""
    return [
        segment.style
        for strip in app.screen._compositor.render_strips()
        for segment in strip
        if segment.style is not None and segment.text.strip().startswith(text)
    ]


async def test_without_colour_failed_and_stalled_jobs_and_errors_read_plainly(
    engine: Engine, tui_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    seed(engine, tui_settings)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await snapshot_loaded(pilot)
        app.main_screen.routers_table.focus()  # the jobs pane's cursor is not on the rows looked at
        await pilot.pause()
        failed, stalled = segments(app, "failed"), segments(app, "stalled")
        errors = segments(app, "reading pools failed") + segments(app, "pool p2p-v6: bad address")
        errors += segments(app, "login to 10.9.0.9")  # the router's last error
        assert failed and stalled and len(errors) >= 3
        for style in failed + stalled + errors:
            assert style.bold and not style.dim, style
            assert readable(style) >= 0.5, f"grey on grey: {style}"
        assert all(style.reverse for style in stalled)


async def test_without_colour_every_pane_title_reads(
    engine: Engine, tui_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    seed(engine, tui_settings)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=NARROW) as pilot:
        await snapshot_loaded(pilot)
        await pilot.press("M")
        await wait_until(pilot, lambda: segments(app, "Queue: now"), what="the metrics")
        for title in ("Queue: now", "Failing routers"):
            for style in segments(app, title):
                assert readable(style) >= 0.5, f"{title!r} grey on grey: {style}"


# -- 5. notices leave the log's newest lines readable ----------------------------------------------


async def test_notices_do_not_cover_the_logs_newest_lines_at_80x24(
    engine: Engine, tui_settings: Settings
) -> None:
    seed(engine, tui_settings)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=NARROW, notifications=True) as pilot:
        await snapshot_loaded(pilot)
        log = app.main_screen.query_one(LogPane)
        app.presenter.say("a notice long enough to take two lines of a toast at eighty columns, or more")
        toast = await wait_until(pilot, lambda: next(iter(app.screen.query(Toast)), None), what="a toast")
        await wait_until(pilot, lambda: toast.region.height > 0, what="the toast drawn")
        assert not toast.region.overlaps(log.region), (toast.region, log.region)
        for n in range(2):
            app.presenter.say(f"another notice, number {n}")
        await wait_until(pilot, lambda: len(app.screen.query(Toast)) == 3, what="three toasts")
        await pilot.pause()
        content = log.content_region
        newest = Region(content.x, content.bottom - 2, content.width, 2)
        for shown in app.screen.query(Toast):
            assert not shown.region.overlaps(newest), (shown.region, newest)


# -- 6. at 80 columns each screen's footer shows its own keys first, and ? ---------------------------


def footer_keys(app: PoolImportApp) -> list[str]:
    """The keys the footer shows whole within the screen's width, left to right."""
    width = app.size.width
    shown = [key for key in app.screen.query(FooterKey) if key.region.width and key.region.right <= width]
    return [key.key_display for key in sorted(shown, key=lambda key: key.region.x)]


async def on_pools(pilot: Any) -> None:
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, PoolsScreen) and pilot.app.screen.pools)


async def on_addresses(pilot: Any) -> None:
    await on_pools(pilot)
    screen = pilot.app.screen
    table = screen.query_one("#pools")
    table.select_key(next(key for key, pool in screen.pools.items() if pool["name"] == "pppoe"))
    table.focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AddressesScreen) and pilot.app.screen.rows)


async def on_detail(pilot: Any) -> None:
    pilot.app.main_screen.jobs_table.focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, JobDetailScreen))


async def on_workers(pilot: Any) -> None:
    await pilot.press("W")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, WorkersScreen))


async def on_audit(pilot: Any) -> None:
    await pilot.press("A")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AuditScreen))


async def on_main(pilot: Any) -> None:
    pass


async def on_router_form(pilot: Any) -> None:
    await open_screen(pilot, "a", RouterForm)


async def on_tenant_form(pilot: Any) -> None:
    await open_screen(pilot, "T", TenantForm)


@pytest.mark.parametrize(
    ("go", "first"),
    [
        (on_main, ["i", "r", "c", "t", "a", "e"]),
        (on_pools, ["⏎", "esc", "/"]),
        (on_addresses, ["esc", "a", "f", "u", "s", "m", "/"]),
        (on_detail, ["esc", "m"]),
        (on_workers, ["esc", "/"]),
        (on_audit, ["esc", "/"]),
        # A form's fields take a typed `?`: its footer has its own keys only.
        (on_router_form, ["esc", "^s", "^t"]),
        (on_tenant_form, ["esc", "^s"]),
    ],
    ids=lambda value: value.__name__ if callable(value) else "",
)
async def test_at_80_columns_each_footer_shows_its_screens_keys_first_then_help(
    engine: Engine, tui_settings: Settings, go: Callable[[Any], Any], first: list[str]
) -> None:
    seed(engine, tui_settings)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=NARROW) as pilot:
        await snapshot_loaded(pilot)
        await go(pilot)
        await pilot.pause()
        shown = await wait_until(pilot, lambda: footer_keys(app), what="the footer")
        assert shown[: len(first)] == first, shown
        form = go in (on_router_form, on_tenant_form)
        assert form or "?" in shown, shown
        cut = [key.key_display for key in app.screen.query(FooterKey) if key.region.right > NARROW[0]]
        assert cut == [], f"keys cut at the edge: {cut}"


async def test_at_80_columns_the_focused_logs_keys_come_first_and_a_wide_footer_has_the_rest(
    engine: Engine, tui_settings: Settings
) -> None:
    seed(engine, tui_settings)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=NARROW) as pilot:
        await snapshot_loaded(pilot)
        app.main_screen.log_pane.focus()
        await wait_until(pilot, lambda: footer_keys(app)[:5] == ["/", "n", "N", "]", "["], what="log keys")
        assert "?" in footer_keys(app)
        await pilot.resize_terminal(250, 40)
        await wait_until(pilot, lambda: {"A", "W", "I", "^p"} <= set(footer_keys(app)), what="every key")


async def test_at_80_columns_a_failed_jobs_error_keeps_a_readable_start(
    engine: Engine, tui_settings: Settings
) -> None:
    seed(engine, tui_settings)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=NARROW) as pilot:
        await snapshot_loaded(pilot)
        rows = [line for line in screen_text(app).splitlines() if " failed " in line and "│" in line]
        assert any("reading pools fa" in row for row in rows), rows
