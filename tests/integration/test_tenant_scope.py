"""Tenant scope on every way in: an operator of north, by name and by numeric id, sees and touches nothing of
south, through each CLI command, the TUI's data layer and the core functions beneath them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update

from poolimport.core.access.identity import Identity
from poolimport.core.access.tenancy import NotFound
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.imports.kinds import run_import
from poolimport.core.jobs.lifecycle import create_job, finish
from poolimport.core.models import ImportJob, IpPool, Router
from poolimport.sim import SimServer
from poolimport.tui.data import Data
from tests.conftest import ADMIN, router_config, run_cli

NORA = {"POOLIMPORT_OPERATOR": "nora"}
TABLES = ("routers", "ip_pools", "pool_addresses", "import_jobs", "job_events")


@dataclasses.dataclass
class World:
    north_router: int
    south_router: int
    south_job: int
    south_pool: int
    north_failed_job: int

    def fill(self, words: tuple[str, ...]) -> list[str]:
        return [word.format(**dataclasses.asdict(self)) for word in words]


def south_rows(engine: Engine, world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row that belongs to south, to compare before and after."""
    queries = {
        "routers": "SELECT * FROM routers WHERE id = :r",
        "ip_pools": "SELECT * FROM ip_pools WHERE router_id = :r",
        "pool_addresses": "SELECT a.* FROM pool_addresses a JOIN ip_pools p ON p.id = a.pool_id"
        " WHERE p.router_id = :r",
        "import_jobs": "SELECT * FROM import_jobs WHERE router_id = :r",
        "job_events": "SELECT e.* FROM job_events e JOIN import_jobs j ON j.id = e.job_id"
        " WHERE j.router_id = :r",
    }
    with engine.connect() as conn:
        return {
            table: sorted(tuple(row) for row in conn.execute(text(sql), {"r": world.south_router}))
            for table, sql in queries.items()
        }


def failed_job(engine: Engine, router_id: int, error: str) -> int:
    with session_scope(engine) as session:
        job_id = create_job(
            session, ADMIN, session.get(Router, router_id), time_limit=60, heartbeat_interval=10
        ).id
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(status="running"))
        finish(conn, job_id, "failed", error=error)
    return job_id


@pytest.fixture
def world(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> Iterator[World]:
    sim = sim_factory(router_config())
    north = add_router(sim, name="north-1", tenant="north")
    south = add_router(sim, name="south-1", tenant="south")
    run_import(engine, settings, north)
    run_import(engine, settings, south)
    south_job = failed_job(engine, south, "south's secret failure")
    north_job = failed_job(engine, north, "north's failure")
    assert run_cli("operator", "add", "nora", "--tenant", "north").returncode == 0
    assert run_cli("operator", "add", "sam-of-south", "--tenant", "south").returncode == 0
    with engine.connect() as conn:
        south_pool = conn.scalar(select(IpPool.id).where(IpPool.router_id == south, IpPool.name == "pppoe"))
    yield World(north, south, south_job, south_pool, north_job)


REFUSED_COMMANDS = [
    ("pools", "south-1"),
    ("pools", "{south_router}"),
    ("addresses", "south-1", "pppoe"),
    ("addresses", "{south_router}", "pppoe"),
    ("import", "south-1"),
    ("import", "{south_router}"),
    ("import", "south-1", "--sync"),
    ("import", "{south_router}", "--sync", "--dry-run"),
    ("import", "--all", "--tenant", "south"),
    ("job", "show", "{south_job}"),
    ("logs", "{south_job}"),
    ("logs", "{south_job}", "--follow"),
    ("cancel", "{south_job}"),
    ("retry", "{south_job}"),
    ("router", "test", "south-1"),
    ("router", "test", "{south_router}"),
    ("router", "remove", "south-1", "--yes"),
    ("router", "remove", "{south_router}", "--yes"),
]


@pytest.mark.parametrize("words", REFUSED_COMMANDS, ids=" ".join)
def test_cli_refuses_south_by_name_and_id(engine: Engine, world: World, words: tuple[str, ...]) -> None:
    before = south_rows(engine, world)
    out = run_cli(*world.fill(words), env=NORA)
    assert out.returncode != 0
    assert out.stderr.startswith("error: no ") and "Traceback" not in out.stderr, out.stderr
    assert "south's secret failure" not in out.stdout + out.stderr
    assert south_rows(engine, world) == before


LISTS = [
    ("router", "list", "--json"),
    ("tenant", "list", "--json"),
    ("operator", "list", "--json"),
    ("jobs", "--json"),
    ("jobs", "--status", "failed", "--json"),
    ("failed", "--json"),
]


@pytest.mark.parametrize("words", LISTS, ids=" ".join)
def test_cli_lists_show_nothing_of_south(engine: Engine, world: World, words: tuple[str, ...]) -> None:
    out = run_cli(*words, env=NORA)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout), "the list is empty: nothing shows that north's rows are there"
    assert "south" not in out.stdout  # no router, tenant or job error of south's


def test_cli_writes_over_everything_touch_only_north(engine: Engine, world: World, tmp_path: Path) -> None:
    before = south_rows(engine, world)
    retried = run_cli("retry", "--all-failed", "--json", env=NORA)
    assert retried.returncode == 0, retried.stderr
    queue = {**NORA, "POOLIMPORT_QUEUE_URL": f"sqlite:///{tmp_path}/no-consumer.db"}
    queued = run_cli("import", "--all", "--json", env=queue)
    flushed = run_cli("flush", "--stuck", env=NORA)
    assert flushed.returncode == 0, flushed.stderr
    assert south_rows(engine, world) == before
    with engine.connect() as conn:
        routers = set(conn.scalars(select(ImportJob.router_id)))
    assert routers == {world.north_router, world.south_router}
    assert "south" not in retried.stdout + queued.stdout


@pytest.fixture
def nora_data(settings: Settings, world: World) -> Data:
    return Data(dataclasses.replace(settings, identity=Identity("nora")))


def test_tui_data_layer_reads_nothing_of_south(engine: Engine, world: World, nora_data: Data) -> None:
    before = south_rows(engine, world)
    assert {row["name"] for row in nora_data.routers()} == {"north-1"}
    assert {row["router"] for row in nora_data.jobs()} == {"north-1"}
    assert nora_data.tenants() == ["north"]
    assert nora_data.events(world.south_job, 0) == []
    assert nora_data.event_tail(world.south_job, 50) == ([], False)
    assert nora_data.pools(world.south_router) == []
    assert nora_data.addresses(world.south_pool, None, 0, 100) == []
    assert nora_data.pools(world.north_router)  # the same calls do return north's rows
    assert nora_data.events(world.north_failed_job, 0)
    assert south_rows(engine, world) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda data, w: data.router_form_values(w.south_router),
        lambda data, w: data.test_router(w.south_router),
        lambda data, w: data.actions().cancel(w.south_job),
    ],
    ids=["form values", "test router", "cancel"],
)
def test_tui_data_layer_refuses_south(
    engine: Engine, world: World, nora_data: Data, call: Callable[[Data, World], Any]
) -> None:
    before = south_rows(engine, world)
    with pytest.raises(NotFound):
        call(nora_data, world)
    assert south_rows(engine, world) == before


def test_tui_data_layer_writes_refuse_south(engine: Engine, world: World, nora_data: Data) -> None:
    before = south_rows(engine, world)
    actions = nora_data.actions()
    assert actions.import_routers([world.south_router]).created == []
    not_theirs = actions.retry([world.south_job])  # as if there were no such job
    assert (not_theirs.created, not_theirs.refused) == ([], [f"no job #{world.south_job}"])
    outcome = actions.retry_all_failed()
    with engine.connect() as conn:
        retried = set(conn.scalars(select(ImportJob.retry_of_id).where(ImportJob.id.in_(outcome.created))))
    assert retried <= {world.north_failed_job}
    assert south_rows(engine, world) == before
