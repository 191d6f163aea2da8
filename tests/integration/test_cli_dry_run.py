"""`poolimport import ROUTER --sync --dry-run` counts the pools that would change, not the unchanged."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from poolimport.sim import SimServer
from tests.conftest import PASSWORD, run_cli


def test_a_dry_run_counts_only_the_pools_that_would_change(
    engine: Engine, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    first = run_cli("import", "core", "--sync", "--dry-run")
    assert first.returncode == 0, first.stderr
    assert "dry run: 3 of 3 pools would change" in first.stdout

    imported = run_cli("import", "core", "--sync")
    assert imported.returncode == 0, imported.stderr
    assert "would change" not in imported.stdout

    again = run_cli("import", "core", "--sync", "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "dry run: 0 of 3 pools would change" in again.stdout
    assert "3 would change" not in again.stdout
    for result in (first, imported, again):
        assert "Traceback" not in result.stderr and PASSWORD not in result.stdout + result.stderr
