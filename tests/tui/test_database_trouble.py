"""A database that goes away while the pools or addresses screen loads: the banner says so on the screen
the operator is looking at, the app keeps running, and the screen fills in once the database is back."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, make_url, text
from textual.widgets import DataTable

from poolimport.core import schema
from poolimport.core.config import Settings, load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.models import Operator
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.addresses_screen import AddressesScreen
from poolimport.tui.components.banner import Banner
from poolimport.tui.components.pools_screen import PoolsScreen
from poolimport.tui.components.routers_table import RoutersTable
from tests.conftest import register_me
from tests.proxy import TcpProxy
from tests.tui.conftest import wait_until
from tests.tui.sample_data import seed

SIZE = (160, 48)


def banner_text(app: PoolImportApp) -> str:
    """The banner of the screen on top, as shown; empty when hidden or absent."""
    banners = [banner for banner in app.screen.query(Banner) if banner.display]
    return " ".join(str(banner.render()) for banner in banners)


async def pools_screen_of_first_router(pilot: Any, app: PoolImportApp) -> PoolsScreen:
    await wait_until(pilot, lambda: app.query_one(RoutersTable).row_count == 3, what="routers")
    table = app.query_one(RoutersTable)
    table.select_key(next(key for key, r in app.main_screen.routers.items() if r["name"] == "core-pppoe"))
    table.focus()
    await pilot.press("p")
    return await wait_until(pilot, lambda: isinstance(app.screen, PoolsScreen) and app.screen, what="pools")


async def test_database_gone_while_the_pools_load_is_the_banner_then_the_pools(
    engine: Engine, tui_settings: Settings
) -> None:
    seed(engine, tui_settings)
    database = tui_settings.home / "poolimport.db"
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query_one(RoutersTable).row_count == 3, what="routers")
        engine.dispose()
        dispose_engines()
        away = database.rename(database.with_suffix(".away"))
        pools = await pools_screen_of_first_router(pilot, app)
        await wait_until(pilot, lambda: "database unavailable" in banner_text(app), what="banner on pools")
        # Once the app's own reads fail too, the database is said once, not once per reader.
        await wait_until(
            pilot,
            lambda: "database" in app.problems and banner_text(app).count("unavailable") == 1,
            what=f"one line: {banner_text(app)}",
        )
        assert app.is_running
        assert app.screen is pools and not pools.pools
        dispose_engines()
        database.unlink(missing_ok=True)
        away.rename(database)
        await wait_until(pilot, lambda: len(pools.pools) == 2, what="pools once the database is back")
        # The sample's queued job has no consumer: that banner stays, the database's goes.
        await wait_until(pilot, lambda: "unavailable" not in banner_text(app), what="banner to clear")
        assert app.is_running


async def test_table_gone_while_the_addresses_load_is_the_banner_then_the_addresses(
    engine: Engine, tui_settings: Settings
) -> None:
    seed(engine, tui_settings)
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        pools = await pools_screen_of_first_router(pilot, app)
        await wait_until(pilot, lambda: len(pools.pools) == 2, what="pools")
        table = pools.query_one(DataTable)
        table.select_key(next(key for key, pool in pools.pools.items() if pool["name"] == "pppoe"))
        table.focus()
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE pool_addresses RENAME TO pool_addresses_away"))
        await pilot.press("enter")
        addresses = await wait_until(
            pilot, lambda: isinstance(app.screen, AddressesScreen) and app.screen, what="addresses screen"
        )
        # Only this screen's query fails: the main poll succeeding meanwhile must not hide the banner.
        await wait_until(pilot, lambda: "unavailable" in banner_text(app), what="banner on addresses")
        await pilot.press("u")
        await wait_until(pilot, lambda: addresses.status == "used", what="the used filter")
        assert "unavailable" in banner_text(app)
        assert app.is_running and app.screen is addresses
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE pool_addresses_away RENAME TO pool_addresses"))
        await wait_until(pilot, lambda: len(addresses.rows) == 20, what="the used addresses once back")
        # The sample's queued job has no consumer: that banner stays, the database's goes.
        await wait_until(pilot, lambda: "unavailable" not in banner_text(app), what="banner to clear")
        assert app.is_running


async def test_a_database_that_stops_answering_is_the_banner_within_seconds_then_the_data_again(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections that stay open while nothing comes back (a hung server, a dead route): no error
    ever arrives, so the wait itself is what the banner says."""
    engine = get_engine(pg_settings)
    schema.upgrade(engine)
    register_me(engine)
    with session_scope(engine) as session:
        session.add(Operator(name="ops", tenant_id=None, role="admin"))
    seed(engine, pg_settings)
    direct = make_url(pg_settings.database_url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432)).start()
    try:
        proxied = direct.set(host="127.0.0.1", port=proxy.port)
        monkeypatch.setenv("POOLIMPORT_DATABASE_URL", proxied.render_as_string(hide_password=False))
        monkeypatch.setenv("POOLIMPORT_OPERATOR", "ops")
        app = PoolImportApp(load_settings())
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.query_one(RoutersTable).row_count == 3, what="routers")
            proxy.freeze()
            said = await wait_until(pilot, lambda: "not answering" in banner_text(app) and banner_text(app))
            assert "database" in said
            proxy.thaw()
            await wait_until(pilot, lambda: "not answering" not in banner_text(app), what="the banner gone")
            assert "database" not in banner_text(app)  # the seed's queued job, with no consumer, stays said
    finally:
        proxy.thaw()
        proxy.stop()
