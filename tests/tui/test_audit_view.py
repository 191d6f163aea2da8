"""`A` opens the audit: the operator's tenants' changes and refusals, newest first, filterable."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from poolimport.core.access import audit
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import Settings
from poolimport.tui.app import PoolImportApp
from poolimport.tui.components.audit_screen import AuditScreen, AuditTable
from tests.tui.conftest import wait_until

SIZE = (160, 48)


def cell_texts(table: AuditTable) -> list[str]:
    return [" ".join(str(cell) for cell in table.get_row_at(n)) for n in range(table.row_count)]


async def test_audit_view_lists_changes_and_refusals_newest_first(
    engine: Engine, tui_settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(name="r1", port=1)
    admin = Scope(operator="root", tenant_ids=None, actor="root")
    root_as_nora = Scope(operator="nora", tenant_ids=None, actor="root")
    with engine.begin() as conn:
        audit.record(conn, root_as_nora, "import.queue", subject="r1")
    audit.record_refusal(engine, admin, "router.edit", "[bold]password needed", subject="r1")
    app = PoolImportApp(tui_settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, AuditScreen), what="the audit screen")
        table = app.screen.query_one(AuditTable)
        await wait_until(pilot, lambda: table.row_count >= 3, what="audit rows")
        rows = cell_texts(table)
        assert "router.edit" in rows[0] and "refused" in rows[0] and "[bold]password needed" in rows[0]
        assert "root as nora" in rows[1] and "import.queue" in rows[1]
        assert "tenant.add" in rows[-1]
        await pilot.press("slash", *"refused", "enter")
        await wait_until(pilot, lambda: table.row_count == 1, what="the filter")
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AuditScreen), what="back")
