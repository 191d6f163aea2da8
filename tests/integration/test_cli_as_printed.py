"""The CLI as an operator reads it: ports as typed, no Python dicts, one JSON shape per command, a
question before history is deleted, and the README's sample simulator config serving for real."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, insert, select

from poolimport.core.models import ImportJob, Router
from poolimport.sim import SimServer
from tests.conftest import router_config, run_cli
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sim-router.toml"


def test_router_list_shows_ports_as_typed_and_counts_grouped(add_router: Callable[..., int]) -> None:
    add_router(None, name="r1", port=8728)
    out = run_cli("router", "list")
    assert out.returncode == 0, out.stderr
    assert " 8728 " in out.stdout and "8,728" not in out.stdout


def test_job_show_prints_fields_not_python_dicts(sim: SimServer, add_router: Callable[..., int]) -> None:
    add_router(sim, name="core")
    assert run_cli("import", "core", "--sync").returncode == 0
    out = run_cli("job", "show", "1")
    assert out.returncode == 0, out.stderr
    assert "{" not in out.stdout and "'" not in out.stdout, out.stdout
    assert "pools" in out.stdout and "imported 3" in out.stdout


IMPORT_JSON_KEYS = {"job_ids", "refused", "results"}


def test_import_json_has_one_shape_queued_or_refused(sim: SimServer, add_router: Callable[..., int]) -> None:
    add_router(None, name="r1", port=1)
    queued = run_cli("import", "r1", "--json")
    assert queued.returncode == 0, queued.stderr
    first = json.loads(queued.stdout)
    assert set(first) == IMPORT_JSON_KEYS
    assert (len(first["job_ids"]), first["refused"], first["results"]) == (1, [], [])
    held = f"router r1 already has job #{first['job_ids'][0]} (queued)"
    # Refused however it is asked for (the first job still holds the router): the same object, exit 1,
    # and the error line on stderr.
    for mode in ((), ("--sync",), ("--sync", "--dry-run"), ("--wait",), ("--dry-run",)):
        refused = run_cli("import", "r1", *mode, "--json")
        assert (refused.returncode, refused.stderr) == (1, f"error: {held}\n"), mode
        assert json.loads(refused.stdout) == {"job_ids": [], "refused": [held], "results": []}, mode

    add_router(sim, name="core")
    for mode, dry_run in ((("--sync",), False), (("--sync", "--dry-run"), True)):
        ran = run_cli("import", "core", *mode, "--json")
        assert ran.returncode == 0, ran.stderr
        data = json.loads(ran.stdout)
        assert set(data) == IMPORT_JSON_KEYS and data["refused"] == []
        [job_id] = data["job_ids"]
        [row] = data["results"]  # the job at its end, as `jobs --json` shows it, with the import's result
        shown = json.loads(run_cli("job", "show", str(job_id), "--json").stdout)
        assert {key: row[key] for key in ("id", "router", "status", "source", "dry_run")} == {
            key: shown[key] for key in ("id", "router", "status", "source", "dry_run")
        }
        assert (row["id"], row["status"], row["source"], row["dry_run"]) == (
            job_id,
            "succeeded",
            "sync",
            dry_run,
        )
        result = row["result"]
        assert (result["router"], result["status"], result["dry_run"]) == ("core", "succeeded", dry_run)
        assert result["pools"]["total"] == 3 and result["addresses"]["total"] == 170
        assert ("details" in result) == dry_run


def test_router_remove_asks_first_and_scripts_say_yes(engine: Engine, add_router: Callable[..., int]) -> None:
    add_router(None, name="r1", port=1)
    out = run_cli("router", "remove", "r1", stdin="")  # no terminal to ask on
    assert out.returncode == 1 and "--yes" in out.stderr and "Traceback" not in out.stderr
    out = run_cli("router", "remove", "r1", stdin="y\n")  # an answer on a pipe is not a terminal's
    assert out.returncode == 1
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Router)) == 1
    out = run_cli("router", "remove", "r1", "--yes")
    assert out.returncode == 0 and "removed" in out.stdout, out.stderr
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Router)) == 0


def test_router_remove_answered_no_on_a_terminal_says_not_confirmed(
    engine: Engine, add_router: Callable[..., int]
) -> None:
    add_router(None, name="s1", port=1)
    master, slave = pty.openpty()
    try:
        asked = subprocess.Popen(
            [sys.executable, "-m", "poolimport.cli", "router", "remove", "s1"],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        os.write(master, b"\n")  # Enter: the default answer, No
        out, err = asked.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert asked.returncode == 1, out + err
    assert "[y/N]" in out
    assert err == "error: router s1 kept: not confirmed\n"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Router)) == 1


def test_job_show_prints_each_import_error_as_import_sync_does(
    sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    config = router_config()
    config["menus"]["/ip/pool"][1]["ranges"] = "10.10.0.1-10.10.0.300"
    sim = sim_factory(config)
    add_router(sim, name="core")
    assert run_cli("import", "core", "--sync").returncode == 1  # partial: pool static failed
    sim.stop()
    assert run_cli("import", "core", "--sync").returncode == 1  # failed: the router is away
    partial, failed = run_cli("job", "show", "1"), run_cli("job", "show", "2")
    assert (partial.returncode, failed.returncode) == (0, 0), partial.stderr + failed.stderr
    assert "  error: pool static: bad address '10.10.0.300' in '10.10.0.1-10.10.0.300'\n" in partial.stdout
    refused = f"connection refused by 127.0.0.1:{sim.port}"
    assert f"  error: reading pools failed: {refused}\n" in failed.stdout, failed.stdout


def test_the_sample_simulator_config_serves_a_router_to_import(engine: Engine, tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "poolimport.cli",
            "sim",
            "--config",
            str(SAMPLE),
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        port = int(
            wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 30, "the simulator")
        )
        assert run_cli("tenant", "add", "lab").returncode == 0
        added = run_cli(
            "router",
            "add",
            "sample",
            "--tenant",
            "lab",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--username",
            "admin",
            "--password-stdin",
            stdin="demo\n",
        )
        assert added.returncode == 0, added.stderr
        tested = run_cli("router", "test", "sample")
        assert tested.returncode == 0 and "sample-ccr" in tested.stdout, tested.stderr
        imported = run_cli("import", "sample", "--sync", "--json")
        assert imported.returncode == 0, imported.stderr
        result = json.loads(imported.stdout)["results"][0]["result"]
        assert result["pools"]["imported"] == 3 and result["addresses"]["added"] > 4000
    finally:
        sim.terminate()
        sim.wait(10)


def test_job_show_prints_each_pool_and_the_retry_chain(
    engine: Engine, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    assert run_cli("import", "core", "--sync").returncode == 0
    with engine.begin() as conn:  # a later attempt of job #1, as `retry` would queue it
        conn.execute(
            insert(ImportJob).values(
                router_id=1, tenant_id=1, requested_by="nora", status="failed", attempt=2, retry_of_id=1
            )
        )
    out = run_cli("job", "show", "2")
    assert out.returncode == 0, out.stderr
    assert "per pool:" not in out.stdout and "attempts:" in out.stdout  # never ran: no pools, but a chain
    first = run_cli("job", "show", "1")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.split("per pool:\n", 1)[1].split("attempts:\n")
    assert len(lines[0].splitlines()) == 3 and all(": added, " in line for line in lines[0].splitlines())
    chain = lines[1].splitlines()
    assert chain[0].startswith("* #1 attempt 1 succeeded, by ") and chain[1].startswith(
        "  #2 attempt 2 failed, by nora"
    )
    shown = json.loads(run_cli("job", "show", "1", "--json").stdout)
    assert [attempt["id"] for attempt in shown["attempts"]] == [1, 2] and len(shown["pools"]) == 3
    assert shown["waited"] is not None and shown["ran"] is not None
