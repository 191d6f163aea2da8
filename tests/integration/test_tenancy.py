"""Operators see only their tenant's routers and jobs; viewers may look but not act."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Engine

from poolimport.sim import SimServer
from tests.conftest import run_cli


def test_scoped_operator_and_viewer(engine: Engine, sim: SimServer, add_router: Callable[..., int]) -> None:
    add_router(sim, name="north-1", tenant="north")
    add_router(sim, name="south-1", tenant="south")
    assert run_cli("operator", "add", "nora", "--tenant", "north").returncode == 0
    assert run_cli("operator", "add", "vic", "--tenant", "south", "--role", "viewer").returncode == 0

    # The first registration keeps whoever made it an administrator of everything.
    admins = json.loads(run_cli("operator", "list", "--json").stdout)
    assert {"role": "admin", "tenant": None}.items() <= next(
        o for o in admins if o["role"] == "admin"
    ).items()
    assert {r["name"] for r in json.loads(run_cli("router", "list", "--json").stdout)} == {
        "north-1",
        "south-1",
    }

    nora = {"POOLIMPORT_OPERATOR": "nora"}
    assert [r["name"] for r in json.loads(run_cli("router", "list", "--json", env=nora).stdout)] == [
        "north-1"
    ]
    hidden = run_cli("pools", "south-1", env=nora)
    assert hidden.returncode == 1 and hidden.stderr == "error: no router 'south-1'\n"
    queued = run_cli("import", "north-1", "--json", env=nora)
    assert queued.returncode == 0, queued.stderr
    job_id = json.loads(queued.stdout)["job_ids"][0]
    assert json.loads(run_cli("job", "show", str(job_id), "--json").stdout)["requested_by"] == "nora"

    vic = {"POOLIMPORT_OPERATOR": "vic"}
    assert run_cli("job", "show", str(job_id), env=vic).stderr == f"error: no job #{job_id}\n"
    refused = run_cli("import", "south-1", env=vic)
    assert refused.returncode == 1 and refused.stderr == "error: vic is a viewer and may not start imports\n"

    stranger = run_cli("router", "list", env={"POOLIMPORT_OPERATOR": "mallory"})
    assert stranger.returncode == 1 and stranger.stderr == "error: operator 'mallory' is not registered\n"
