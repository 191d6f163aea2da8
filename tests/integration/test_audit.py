"""What operators do to jobs and tenants is recorded; `poolimport audit` reads it within their tenants."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poolimport.core.access.identity import Identity, os_account
from poolimport.core.access.tenancy import AccessDenied
from poolimport.core.config import Settings
from poolimport.core.jobs.actions import JobActions
from poolimport.sim import SimServer
from tests.conftest import router_config, run_cli
from tests.integration.test_cli import Result, here, outputs

__all__ = ["here", "outputs"]  # fixtures shared with the module they come from


def audit(*args: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    out = run_cli("audit", "--json", *args, env=env)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def test_imports_retries_cancels_and_tenants_are_recorded(
    engine: Engine, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    add_router(sim_factory(router_config()), name="r1", tenant="north")
    assert run_cli("import", "r1", "--sync").returncode == 0
    assert run_cli("import", "r1", "--sync", "--dry-run").returncode == 0
    queued = json.loads(run_cli("import", "r1", "--json").stdout)["job_ids"][0]
    assert run_cli("cancel", str(queued)).returncode == 0
    assert run_cli("retry", str(queued)).returncode == 0
    assert run_cli("tenant", "add", "south").returncode == 0

    rows = audit()
    actions = [(row["action"], row["outcome"], row["detail"]) for row in reversed(rows)]
    assert actions[-6:] == [
        ("import.sync", "ok", None),
        ("import.sync", "ok", "dry run"),
        ("import.queue", "ok", None),
        ("cancel", "ok", None),
        ("retry", "ok", f"retry of #{queued}"),
        ("tenant.add", "ok", None),
    ]
    assert {row["origin"] for row in rows} == {"local"}
    assert [row["job_id"] for row in audit("--router", "r1") if row["action"] == "cancel"] == [queued]
    table = run_cli("audit")
    assert "import.sync" in table.stdout and "tenant.add" in table.stdout


def test_audit_is_read_within_the_askers_tenants(
    engine: Engine, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    sim = sim_factory(router_config())
    add_router(sim, name="north-1", tenant="north")
    add_router(sim, name="south-1", tenant="south")
    assert run_cli("import", "north-1", "--sync").returncode == 0
    assert run_cli("import", "south-1", "--sync").returncode == 0
    assert run_cli("operator", "add", "nora", "--tenant", "north").returncode == 0
    seen = audit(env={"POOLIMPORT_OPERATOR": "nora"})
    assert {row["subject"] for row in seen} == {"north", "north-1", "nora"}  # its tenant, router, operator


def test_refusals_are_recorded_once_each(
    engine: Engine, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    sim = sim_factory(router_config())
    add_router(sim, name="north-1", tenant="north")
    add_router(sim, name="south-1", tenant="south")
    assert run_cli("operator", "add", "nora", "--tenant", "north").returncode == 0
    assert run_cli("operator", "add", "vic", "--tenant", "north", "--role", "viewer").returncode == 0
    held = json.loads(run_cli("import", "north-1", "--json").stdout)["job_ids"][0]
    nora, vic = {"POOLIMPORT_OPERATOR": "nora"}, {"POOLIMPORT_OPERATOR": "vic"}
    assert run_cli("import", "north-1", env=nora).returncode == 1  # busy: held by the queued job
    assert run_cli("pools", "south-1", env=nora).returncode == 1  # not in nora's tenants
    assert run_cli("cancel", str(held), env=vic).returncode == 1  # a viewer
    refused = [
        (row["acting_as"], row["action"], row["detail"]) for row in audit() if row["outcome"] == "refused"
    ]
    assert sorted(refused) == sorted(
        [
            ("nora", "import.queue", f"router north-1 already has job #{held} (queued)"),
            ("nora", "pools", "no router 'south-1'"),
            ("vic", "cancel", "vic is a viewer and may not cancel jobs"),
        ]
    )


def test_an_import_refused_for_a_router_whose_password_is_needed_is_recorded_against_the_router(
    engine: Engine,
    settings: Settings,
    home: Path,
    sim: SimServer,
    add_router: Callable[..., int],
    here: Callable[..., Result],
) -> None:
    """After `init --new-key` a router is "password needed": every way of importing it is refused, and each
    refusal is recorded like any other, against the router, where its tenant's operators read it."""
    router_id = add_router(sim, name="north-1", tenant="north")
    assert here("operator", "add", "nora", "--tenant", "north").returncode == 0
    (home / "secret.key").unlink()
    assert here("init", "--new-key").returncode == 0
    nora = {"POOLIMPORT_OPERATOR": "nora"}
    for command in (("import", "north-1"), ("import", "north-1", "--sync"), ("import", "--all")):
        refused = here(*command, env=nora)
        assert refused.returncode == 1 and refused.stderr.count("needs its password again") == 1
    as_nora = replace(settings, identity=Identity(os_account(), acting_as="nora"))
    tui = JobActions(as_nora, send=lambda job_id: "never sent").import_routers([router_id])  # as the TUI does
    assert tui.created == [] and len(tui.refused) == 1
    assert sim.connections_served == 0

    seen = here("audit", "--json", "--router", "north-1", env=nora)
    refusals = [row for row in json.loads(seen.stdout) if row["outcome"] == "refused"]
    assert sorted((row["action"], row["acting_as"], row["router_id"]) for row in refusals) == [
        ("import.queue", "nora", router_id),
        ("import.queue", "nora", router_id),
        ("import.queue", "nora", router_id),
        ("import.sync", "nora", router_id),
    ]
    assert all("router north-1 needs its password again" in str(row["detail"]) for row in refusals)
    assert {row["subject"] for row in refusals} == {"north-1"}


def test_what_the_tui_asks_of_jobs_is_recorded_when_refused(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    here: Callable[..., Result],
) -> None:
    """The TUI's job keys go through JobActions: a viewer's import and cancel are refused and recorded there,
    as the same commands are."""
    router_id = add_router(sim, name="north-1", tenant="north")
    assert here("operator", "add", "vic", "--tenant", "north", "--role", "viewer").returncode == 0
    queued = json.loads(here("import", "north-1", "--json").stdout)["job_ids"][0]
    as_vic = JobActions(replace(settings, identity=Identity(os_account(), acting_as="vic")), send=str)
    with pytest.raises(AccessDenied, match="vic is a viewer and may not start imports"):
        as_vic.import_routers([router_id])
    with pytest.raises(AccessDenied, match="vic is a viewer and may not cancel jobs"):
        as_vic.cancel(queued)
    refused = [
        (row["acting_as"], row["action"], row["router_id"]) for row in audit() if row["outcome"] == "refused"
    ]
    assert sorted(refused) == [("vic", "cancel", router_id), ("vic", "import.queue", router_id)]
