"""`schedule set|list` as an operator reads them: intervals as typed, each router's tenant, no early flag."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.conftest import run_cli


def test_an_interval_reads_back_as_typed_and_one_too_short_is_a_usage_error(
    add_router: Callable[..., int],
) -> None:
    add_router(None, name="r1", port=1)
    for too_short in ("9s", "0s"):
        out = run_cli("schedule", "set", "r1", too_short)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "the shortest interval is 10s" in run_cli("schedule", "set", "r1", "9s").stderr
    negative = run_cli("schedule", "set", "r1", "-5m")
    assert negative.returncode == 2 and "'-5m' is not a duration" in negative.stderr, negative.stderr

    out = run_cli("schedule", "set", "r1", "1000000")
    assert out.returncode == 0 and "every 11d13h46m40s" in out.stdout, out.stderr
    listed = run_cli("schedule", "list").stdout
    assert "11d13h46m40s" in listed and "e+" not in listed
    assert run_cli("schedule", "set", "r1", "1h1s").returncode == 0
    (row,) = json.loads(run_cli("schedule", "list", "--json").stdout)
    assert (row["every"], row["interval"]) == ("1h1s", 3601)


def test_routers_of_the_same_name_in_two_tenants_are_told_apart(add_router: Callable[..., int]) -> None:
    add_router(None, name="dup", tenant="north", port=1)
    add_router(None, name="dup", tenant="south", port=1)
    for tenant in ("north", "south"):
        assert run_cli("schedule", "set", "--tenant", tenant, "dup", "30s").returncode == 0
    rows = json.loads(run_cli("schedule", "list", "--json").stdout)
    assert sorted((row["router"], row["tenant"]) for row in rows) == [("dup", "north"), ("dup", "south")]
    header, *lines = run_cli("schedule", "list").stdout.splitlines()
    assert "TENANT" in header.upper()
    assert sorted(line.split()[:2] for line in lines if line.strip()) == [["dup", "north"], ["dup", "south"]]


def test_a_schedule_just_set_is_not_flagged_before_it_had_its_chances(
    add_router: Callable[..., int],
) -> None:
    add_router(None, name="r1", port=1)
    assert run_cli("schedule", "set", "r1", "1m").returncode == 0
    (row,) = json.loads(run_cli("schedule", "list", "--json").stdout)
    assert row["overdue"] is False and row["age"] is None  # never imported, but only just scheduled
    assert "OVERDUE" not in run_cli("schedule", "list").stdout
