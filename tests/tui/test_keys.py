"""Keys: each screen has its own, the app only those that work everywhere; config.toml's [keymap] rebinds
them by id, and `?` lists the keys of the screen it is pressed on, as they are bound now."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select
from textual.binding import Binding

from poolimport.core.config import Settings, load_settings
from poolimport.core.models import ImportJob
from poolimport.sim import SimServer
from poolimport.tui.app import KEYMAP_OWNERS, PoolImportApp
from poolimport.tui.components.help_screen import HelpScreen
from poolimport.tui.components.pools_screen import PoolsScreen
from tests.tui.conftest import wait_until
from tests.tui.test_app import SIZE, job_ids, routers_loaded

GLOBAL_IDS = {"help", "quit", "audit", "workers", "metrics", "events", "add_tenant", "palette"}
README = Path(__file__).resolve().parents[2] / "README.md"


def with_keymap(home: Path, lines: str) -> Settings:
    (home / "config.toml").write_text(f"[keymap]\n{lines}")
    return load_settings()


def shown_keys(help_screen: HelpScreen) -> dict[str, str]:
    """Binding id -> the keys the help shows for it."""
    return {key.binding.id or "": key.keys for key in help_screen.keys}


def job_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ImportJob)) or 0)


def test_every_binding_has_an_id_the_readme_lists_and_the_app_keeps_only_the_global_ones() -> None:
    owners = (PoolImportApp, *KEYMAP_OWNERS)
    bindings = [b for owner in owners for b in owner.BINDINGS if isinstance(b, Binding)]
    assert all(b.id for b in bindings), [b.action for b in bindings if not b.id]
    assert len({b.id for b in bindings}) == len(bindings)  # one id, one binding
    assert {b.id for b in PoolImportApp.BINDINGS if isinstance(b, Binding)} == GLOBAL_IDS
    readme = README.read_text(encoding="utf-8")
    assert [b.id for b in bindings if f"`{b.id}`" not in readme] == []


async def test_main_screen_keys_do_nothing_on_the_pools_screen(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core", port=1)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("p")
        pools = await wait_until(pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen)
        await pilot.press("i", "I", "r", "c", "t", "e")
        await app.workers.wait_for_complete()
        assert app.screen is pools and job_count(engine) == 0
        assert not app._notifications  # not even "no router selected": those keys aren't bound here
        commands = [command.title for command in app.get_system_commands(pools)]
        assert "Import (i)" not in commands and "Back (esc, q)" in commands


async def test_a_keymap_rebinds_a_key_and_the_help_shows_it(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    settings = with_keymap(tui_settings.home, 'import = "j"\nhelp = "h,f1"\n')
    app = PoolImportApp(settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("i")  # no longer the import key
        await app.workers.wait_for_complete()
        assert job_count(engine) == 0
        await pilot.press("j")
        await wait_until(pilot, lambda: job_ids(app) == [1], what="job #1 from j")
        await pilot.press("h")
        help_screen = await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
        keys = shown_keys(help_screen)
        assert keys["import"] == "j" and keys["help"] == "h, f1" and keys["retry"] == "r"
        assert not any(n.severity == "warning" for n in app._notifications)


async def test_the_help_lists_the_keys_of_the_screen_it_is_opened_from(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core", port=1)
    app = PoolImportApp(with_keymap(tui_settings.home, 'pools.back = "b"\n'))
    async with app.run_test(size=SIZE) as pilot:
        await routers_loaded(pilot, app, 1)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PoolsScreen))
        await pilot.press("question_mark")
        help_screen = await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
        keys = shown_keys(help_screen)
        assert keys["pools.back"] == "b" and keys["pools.filter"] == "/" and keys["help"] == "?"
        assert keys["quit"] == "q"  # `q` was "back" here; rebound, it quits again
        assert "import" not in keys
        await pilot.press("escape", "b")
        await wait_until(pilot, lambda: not isinstance(app.screen, PoolsScreen), what="b goes back")


async def test_an_unknown_binding_id_is_one_notice_and_the_others_apply(
    engine: Engine, tui_settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    settings = with_keymap(tui_settings.home, 'import = "j"\nimprot = "k"\nquit_now = "x"\n')
    app = PoolImportApp(settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        warnings = [str(n.message) for n in app._notifications if n.severity == "warning"]
        assert len(warnings) == 1
        assert "[keymap]" in warnings[0] and "improt, quit_now" in warnings[0]
        await pilot.press("j")
        await wait_until(pilot, lambda: job_ids(app) == [1], what="job #1 from j")
        assert app.is_running


async def test_a_key_the_keymap_takes_from_another_binding_is_said_once(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core", port=1)
    app = PoolImportApp(with_keymap(tui_settings.home, 'import = "r"\n'))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await routers_loaded(pilot, app, 1)
        clashes = [str(n.message) for n in app._notifications if "takes keys" in str(n.message)]
        assert len(clashes) == 1 and clashes[0].endswith("takes keys other bindings had: r (was retry)")
