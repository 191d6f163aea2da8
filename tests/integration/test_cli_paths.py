"""CLI paths that had no test: `router remove`, `jobs --status/--router`, `retry --all-failed`, a wrong key
file, used entries that are not addresses of their pool, a database error on one pool. Each through the real
`poolimport` command against the simulator."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from poolimport.core.config import Settings
from poolimport.core.models import ImportJob, Router
from poolimport.core.secrets.box import ensure_key_file
from poolimport.sim import SimServer
from tests.conftest import SLOW_ROW_DELAY, router_config, run_cli
from tests.helpers import SQL_WORDS, start_cli, wait_for, wait_status
from tests.stored import addresses, dump

Result = subprocess.CompletedProcess[str]


def ok(result: Result) -> Result:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def only_error(result: Result, message: str) -> None:
    """Exit status 1, nothing on stdout, and exactly `error: message` on stderr."""
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"error: {message}\n")


def job_ids(*args: str) -> list[int]:
    return [row["id"] for row in as_json(run_cli("jobs", *args, "--json"))]


def slow_sim(sim_factory: Callable[..., SimServer]) -> SimServer:
    return sim_factory(router_config(faults={"row_delay": SLOW_ROW_DELAY}))


def running_job(engine: Engine, router: str) -> int | None:
    stmt = (
        select(ImportJob.id)
        .join(Router, Router.id == ImportJob.router_id)
        .where(Router.name == router, ImportJob.status == "running")
    )
    with engine.connect() as conn:
        return conn.scalar(stmt)


def start_running_sync(engine: Engine, router: str) -> tuple[subprocess.Popen[str], int]:
    """`import ROUTER --sync` in the background, once its job is running (the router must be slow)."""
    proc = start_cli("import", router, "--sync")
    job_id = wait_for(lambda: running_job(engine, router), 60, f"the sync import of {router} to run")
    return proc, int(job_id)


def stalled_sync_job(engine: Engine, router: str) -> int:
    """A sync import killed while it reads the router: its job is left `running` and reads as stalled."""
    proc, job_id = start_running_sync(engine, router)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_status(job_id, ("stalled",), timeout=30) == "stalled"
    return job_id


def failed_sync(router: str) -> int:
    result = run_cli("import", router, "--sync", "--json")
    assert result.returncode == 1, result.stderr
    return int(as_json(run_cli("jobs", "--router", router, "--limit", "1", "--json"))[0]["id"])


# -- router remove ---------------------------------------------------------------------------------------

HOLDINGS = {
    "routers": "SELECT count(*) FROM routers WHERE id = :r",
    "pools": "SELECT count(*) FROM ip_pools WHERE router_id = :r",
    "addresses": "SELECT count(*) FROM pool_addresses"
    " WHERE pool_id IN (SELECT id FROM ip_pools WHERE router_id = :r)",
    "jobs": "SELECT count(*) FROM import_jobs WHERE router_id = :r",
    "events": "SELECT count(*) FROM job_events"
    " WHERE job_id IN (SELECT id FROM import_jobs WHERE router_id = :r)",
}


def holdings(engine: Engine, router_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: int(conn.scalar(text(sql), {"r": router_id}) or 0) for name, sql in HOLDINGS.items()}


def test_router_remove_takes_its_pools_addresses_and_jobs_and_nothing_else(
    any_engine: Engine, sim: SimServer, any_add_router: Callable[..., int]
) -> None:
    gone = any_add_router(sim, name="gone")
    kept = any_add_router(sim, name="kept")
    any_add_router(sim, name="elsewhere", tenant="other")
    for router in ("gone", "kept", "gone"):
        ok(run_cli("import", router, "--sync"))
    ok(run_cli("import", "gone"))  # a queued job too (no consumer runs)
    held = holdings(any_engine, gone)
    assert {k: v for k, v in held.items() if k != "events"} == {
        "routers": 1,
        "pools": 3,
        "addresses": 170,
        "jobs": 3,
    }
    assert held["events"] > 3
    kept_before = holdings(any_engine, kept)
    assert kept_before["addresses"] == 170

    only_error(run_cli("router", "remove", "nosuch"), "no router 'nosuch'")
    ok(run_cli("operator", "add", "vic", "--role", "viewer", "--every-tenant"))
    ok(run_cli("operator", "add", "olga", "--tenant", "other"))
    only_error(
        run_cli("router", "remove", "gone", env={"POOLIMPORT_OPERATOR": "vic"}),
        "vic is a viewer and may not remove routers",
    )
    only_error(run_cli("router", "remove", "gone", env={"POOLIMPORT_OPERATOR": "olga"}), "no router 'gone'")
    assert holdings(any_engine, gone) == held

    removed = ok(run_cli("router", "remove", "gone", "--yes"))
    assert (removed.stdout, removed.stderr) == ("router gone removed with its pools and jobs\n", "")

    assert holdings(any_engine, gone) == dict.fromkeys(HOLDINGS, 0)
    assert holdings(any_engine, kept) == kept_before
    assert {row["name"] for row in as_json(run_cli("router", "list", "--json"))} == {"elsewhere", "kept"}
    assert {row["router"] for row in as_json(run_cli("jobs", "--json"))} == {"kept"}
    assert sum(pool["total"] for pool in as_json(run_cli("pools", "kept", "--json"))) == 170
    only_error(run_cli("router", "remove", "gone"), "no router 'gone'")


# -- jobs --status / --router ----------------------------------------------------------------------------


def test_jobs_status_and_router_filters_select_exactly(
    engine: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    fast_heartbeat: None,
) -> None:
    sim = sim_factory()
    partial_config = router_config()
    partial_config["menus"]["/ip/pool"][1]["ranges"] = "10.10.0.1-10.10.0.300"
    slow = slow_sim(sim_factory)
    for name in ("done", "waiting", "stopped"):
        add_router(sim, name=name)
    add_router(sim_factory(partial_config), name="half")
    add_router(None, name="broken", port=1)  # nothing listens there: the import fails
    for name in ("busy", "dead"):
        add_router(slow, name=name, timeout=60)

    expected: dict[str, list[int]] = {}
    for _ in range(2):
        ok(run_cli("import", "done", "--sync"))
    expected["succeeded"] = job_ids("--router", "done")
    assert len(expected["succeeded"]) == 2
    assert run_cli("import", "half", "--sync").returncode == 1
    expected["partial"] = job_ids("--router", "half")
    expected["failed"] = [failed_sync("broken")]
    expected["queued"] = [json.loads(ok(run_cli("import", "waiting", "--json")).stdout)["job_ids"][0]]
    cancelled = json.loads(ok(run_cli("import", "stopped", "--json")).stdout)["job_ids"][0]
    ok(run_cli("cancel", str(cancelled)))
    expected["cancelled"] = [cancelled]
    expected["stalled"] = [stalled_sync_job(engine, "dead")]
    busy, running = start_running_sync(engine, "busy")
    try:
        expected["running"] = [running]
        for status, ids in expected.items():
            assert job_ids("--status", status) == ids, status
        assert job_ids("--router", "busy") == [running]
        assert job_ids("--router", "done", "--status", "failed") == []
        assert job_ids("--router", "dead", "--status", "stalled") == expected["stalled"]
        everything = sorted(id_ for ids in expected.values() for id_ in ids)
        assert sorted(job_ids()) == everything and len(everything) == 8
        table = ok(run_cli("jobs", "--status", "stalled")).stdout.splitlines()
        assert len(table) == 2 and table[1].split()[:3] == [str(expected["stalled"][0]), "dead", "stalled"]
        # `stats` counts each as `jobs --status` lists it: the stalled job is not running.
        stats = as_json(run_cli("stats", "--json"))
        counted = {status: stats[status] for status in ("queued", "running", "stalled")}
        assert (
            counted
            == {status: len(expected[status]) for status in counted}
            == {
                "queued": 1,
                "running": 1,
                "stalled": 1,
            }
        )
        said = ok(run_cli("stats")).stdout.splitlines()
        assert {"running 1", "stalled 1"} <= {" ".join(line.split()) for line in said}
    finally:
        busy.kill()
        busy.wait()
    assert ok(run_cli("jobs", "--status", "partial", "--router", "done")).stdout == "(no jobs)\n"
    only_error(run_cli("jobs", "--router", "nosuch"), "no router 'nosuch'")


# -- retry --all-failed ----------------------------------------------------------------------------------


def test_retry_all_failed_retries_only_each_routers_newest_failure(
    engine: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    fast_heartbeat: None,
) -> None:
    partial_config = router_config()
    partial_config["menus"]["/ip/pool"][1]["ranges"] = "10.10.0.1-10.10.0.300"
    for name in ("twice", "once"):
        add_router(None, name=name, port=1)
    add_router(sim_factory(partial_config), name="half")
    add_router(slow_sim(sim_factory), name="dead", timeout=60)
    newest = {"twice": [failed_sync("twice"), failed_sync("twice")][-1], "once": failed_sync("once")}
    assert run_cli("import", "half", "--sync").returncode == 1  # partial: not a failure to retry
    newest["dead"] = stalled_sync_job(engine, "dead")
    jobs_before = len(job_ids())

    retried = as_json(run_cli("retry", "--all-failed", "--json"))
    assert retried["refused"] == [] and len(retried["job_ids"]) == 3
    new_jobs = {
        job_id: as_json(run_cli("job", "show", str(job_id), "--json")) for job_id in retried["job_ids"]
    }
    assert {row["router"]: row["retry_of"] for row in new_jobs.values()} == newest
    assert {(row["status"], row["attempt"]) for row in new_jobs.values()} == {("queued", 2)}
    assert len(job_ids()) == jobs_before + 3
    assert len(job_ids("--router", "half")) == 1
    dead = as_json(run_cli("job", "show", str(newest["dead"]), "--json"))
    assert dead["status"] == "failed" and dead["error"].endswith("; retried")

    again = run_cli("retry", "--all-failed")  # each retry is the newest job of its router: nothing left
    assert (again.returncode, again.stdout, again.stderr) == (0, "no failed jobs to retry\n", "")
    assert len(job_ids()) == jobs_before + 3


# -- key file ----------------------------------------------------------------------------------------


def other_key(path: Path) -> Path:
    ensure_key_file(path)
    return path


def garbage_key(path: Path) -> Path:
    path.write_text("not a key\n")
    return path


@pytest.mark.parametrize(
    ("make_key", "message"),
    [
        (other_key, "stored router password cannot be decrypted with this key file"),
        (lambda path: path, "key file {key} is missing: run `poolimport init`"),
        (garbage_key, "key file {key} does not hold a valid key"),
    ],
    ids=["another-key", "missing", "not-a-key"],
)
def test_a_wrong_key_file_is_one_clear_line_and_changes_nothing(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    tmp_path: Path,
    make_key: Callable[[Path], Path],
    message: str,
) -> None:
    add_router(sim, name="core")
    ok(run_cli("import", "core", "--sync"))
    key = make_key(tmp_path / "elsewhere.key")
    env = {"POOLIMPORT_KEY_FILE": str(key)}
    message = message.format(key=key)
    stored = dump(engine, skip=()), as_json(run_cli("router", "list", "--json"))
    connections = sim.connections_served

    only_error(run_cli("router", "test", "core", env=env), message)
    synced = run_cli("import", "core", "--sync", env=env)
    assert synced.returncode == 1
    assert synced.stderr == f"error: reading pools failed: {message}\n"
    assert synced.stdout.startswith("core: failed in ")

    assert (dump(engine, skip=()), as_json(run_cli("router", "list", "--json"))) == stored
    assert sim.connections_served == connections  # nothing was sent to the router
    job = as_json(run_cli("jobs", "--limit", "1", "--json"))[0]
    assert (job["status"], job["error"]) == ("failed", f"reading pools failed: {message}")
    assert ok(run_cli("router", "test", "core")).stdout  # the right key still works


# -- used entries that are not addresses of their pool -----------------------------------------------------

ODD_USED = {
    "/ip/pool/used": [
        {"pool": "pppoe", "address": "100.64.0.2", "owner": "alice", "info": "pppoe-out1"},
        {"pool": "pppoe", "address": "banana", "owner": "mallory", "info": ""},
        {"pool": "pppoe", "address": "100.64.0.200", "owner": "past-the-end", "info": ""},
        {"pool": "pppoe", "address": "10.10.0.1", "owner": "in-static", "info": ""},  # another pool's address
        {"pool": "pppoe", "address": "", "owner": "empty", "info": ""},
        {"pool": "static", "address": "10.10.0.2", "owner": "carl", "info": ""},
    ],
    "/ipv6/pool/used": [
        {"pool": "v6", "prefix": "2001:db8::4/126", "owner": "carol", "info": "dhcpv6"},
        {"pool": "v6", "prefix": "banana", "owner": "mallory", "info": ""},
    ],
}
ODD_WARNINGS = [
    "pool pppoe: 4 used entries are not addresses of the pool; ignored",
    "pool v6: 1 used entries are not addresses of the pool; ignored",
]


def test_used_entries_outside_their_pool_or_unparseable_are_counted_in_a_warning(
    engine: Engine, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = router_config()
    config["menus"].update(ODD_USED)
    add_router(sim_factory(config), name="core")

    result = as_json(run_cli("import", "core", "--sync", "--json"))["results"][0]["result"]
    assert result["status"] == "succeeded"
    assert result["pools"] == {"total": 3, "imported": 3, "failed": 0, "stale": 0}
    assert result["addresses"]["total"] == 170
    assert result["warnings"] == ODD_WARNINGS
    pools = {pool["name"]: pool for pool in as_json(run_cli("pools", "core", "--json"))}
    assert {name: (p["total"], p["used"], p["free"]) for name, p in pools.items()} == {
        "pppoe": (100, 1, 99),
        "static": (6, 1, 5),
        "v6": (64, 1, 63),
    }
    static = addresses(engine, "static")
    assert static["10.10.0.1"] == ("free", None, None)  # pppoe's stray entry did not land in static
    assert static["10.10.0.2"] == ("used", "carl", "")
    used = as_json(run_cli("addresses", "core", "pppoe", "--status", "used", "--json"))
    assert [row["owner"] for row in used] == ["alice"]

    again = run_cli("import", "core", "--sync")
    assert again.returncode == 0
    assert again.stderr.splitlines() == [f"warning: {warning}" for warning in ODD_WARNINGS]
    assert "addresses: 0 added, 0 updated, 0 stale, 170 total" in again.stdout


# -- a database error on one pool --------------------------------------------------------------------


def test_a_database_error_on_one_pool_is_one_line_and_the_others_import(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_static BEFORE INSERT ON ip_pools WHEN NEW.name = 'static'"
                " BEGIN SELECT RAISE(ABORT, 'static pools are refused here'); END"
            )
        )
    synced = run_cli("import", "core", "--sync")
    assert synced.returncode == 1
    [line] = synced.stderr.splitlines()
    assert line.startswith("error: pool static: database error: ") and "static pools are refused here" in line
    assert not any(word in line for word in SQL_WORDS)
    assert "pools:     3 total, 2 imported, 1 failed, 0 stale" in synced.stdout
    pools = {pool["name"]: pool["total"] for pool in as_json(run_cli("pools", "core", "--json"))}
    assert pools == {"pppoe": 100, "v6": 64}
    job = as_json(run_cli("jobs", "--json"))[0]
    assert job["status"] == "partial" and "static pools are refused here" in job["error"]
