"""`addresses --search` and `jobs --search`: the command reads the same query as the TUI."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Engine

from tests.conftest import run_cli
from tests.search_data import seed_jobs, seed_pool


def test_addresses_search_finds_an_owner_past_any_limit_and_escapes_wildcards(
    engine: Engine, add_router: Callable[..., int]
) -> None:
    seed_pool(engine, add_router(name="core-1"), 60_100)
    found = run_cli("addresses", "core-1", "big", "--search", "needle", "--json")
    assert found.returncode == 0, found.stderr
    assert [row["owner"] for row in json.loads(found.stdout)] == ["Needle-Owner"]
    literal = run_cli("addresses", "core-1", "big", "--search", "100%_", "--status", "used", "--json")
    assert [row["owner"] for row in json.loads(literal.stdout)] == ["100%_off"]
    table = run_cli("addresses", "core-1", "big", "--search", "needle")
    assert "10.20.234.97" in table.stdout and "Needle-Owner" in table.stdout


def test_jobs_search_with_status_and_router(engine: Engine, add_router: Callable[..., int]) -> None:
    for name in ("alpha", "beta", "gamma", "delta"):
        add_router(name=name)
    seed_jobs(engine, filler=60)
    found = run_cli("jobs", "--search", "TIMED OUT", "--json")
    assert found.returncode == 0, found.stderr
    assert [(row["router"], row["status"]) for row in json.loads(found.stdout)] == [("beta", "failed")]
    stalled = run_cli("jobs", "--search", "beta", "--status", "stalled", "--json")
    assert [row["status"] for row in json.loads(stalled.stdout)] == ["stalled"]
    none = run_cli("jobs", "--search", "nothing like it")
    assert none.returncode == 0 and "(no jobs)" in none.stdout
