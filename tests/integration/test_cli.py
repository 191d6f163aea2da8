"""The `poolimport` command end to end: a subprocess against the simulator and a real SQLite file."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from poolimport.cli import main
from poolimport.core.config import Settings
from poolimport.core.db import dispose_engines
from poolimport.core.schema import HEAD_REVISION
from poolimport.sim import SimServer
from tests.conftest import PASSWORD, router_config, run_cli
from tests.helpers import assert_secrets_absent

Result = subprocess.CompletedProcess[str]


@pytest.fixture
def outputs() -> Iterator[list[Result]]:
    """Every CLI result of a test, checked at the end for tracebacks and for the password."""
    seen: list[Result] = []
    yield seen
    for result in seen:
        for stream in (result.stdout, result.stderr):
            assert "Traceback" not in stream, stream
            assert PASSWORD not in stream


@pytest.fixture
def cli(outputs: list[Result]) -> Callable[..., Result]:
    """The real command in a subprocess (about a second each: used for the main paths)."""

    def call(*args: str, **kwargs: Any) -> Result:
        result = run_cli(*args, **kwargs)
        outputs.append(result)
        return result

    return call


@pytest.fixture
def here(
    home: Path, outputs: list[Result], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    """The same entry point, main(argv), in this process: for the many small checks around the main paths."""

    def call(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(stdin or ""))
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse
                    code = exc.code if isinstance(exc.code, int) else 1
        result = Result(list(args), code, out.getvalue(), err.getvalue())
        outputs.append(result)
        return result

    yield call
    dispose_engines()


def ok(result: Result) -> Result:
    assert result.returncode == 0, result.stderr
    return result


def fails(result: Result, message: str) -> Result:
    """Non-zero exit and one `error: ...` line containing `message` on stderr."""
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors, result.stderr
    assert any(message in line for line in errors), result.stderr
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def sync_result(result: Result) -> Any:
    """The import's result in what `import --sync --json` printed: its one job's, at its end."""
    data = as_json(result)
    [job] = data["results"]
    assert data["job_ids"] == [job["id"]] and data["refused"] == []
    return job["result"]


def table_dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in ("routers", "ip_pools", "pool_addresses")
        }


def add_args(name: str, sim: SimServer | None, tenant: str = "acme", *extra: str) -> list[str]:
    port = str(sim.port) if sim is not None else "8728"
    return [
        "router", "add", name, "--tenant", tenant, "--host", "127.0.0.1", "--port", port,
        "--username", "admin", "--timeout", "3", *extra,
    ]  # fmt: skip


# -- init and setup ------------------------------------------------------------------------------------


def test_commands_before_init_and_init_twice(
    home: Path, cli: Callable[..., Result], here: Callable[..., Result]
) -> None:
    result = fails(cli("router", "list"), "the database has no schema yet: run `poolimport init`")
    assert result.stdout == ""
    for args in (("import", "r1", "--sync"), ("pools", "r1", "--json"), ("tenant", "add", "acme")):
        assert fails(here(*args), "run `poolimport init`").stdout == ""

    first = ok(cli("init"))
    assert f"schema created to {HEAD_REVISION}" in first.stdout and "created (mode 0600)" in first.stdout
    key_file = home / "secret.key"
    key = key_file.read_bytes()
    assert key_file.stat().st_mode & 0o777 == 0o600

    second = ok(cli("init"))
    assert f"schema is current ({HEAD_REVISION})" in second.stdout and "kept (mode 0600)" in second.stdout
    assert key_file.read_bytes() == key  # a second init must not replace the key of stored passwords
    assert as_json(ok(here("router", "list", "--json"))) == []


def test_tenants_and_routers(
    home: Path,
    sim: SimServer,
    cli: Callable[..., Result],
    here: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ok(here("init"))
    assert ok(cli("tenant", "add", "acme")).stdout.strip() == "tenant acme added (id 1)"
    ok(here("tenant", "add", "beta"))
    fails(here("tenant", "add", "acme"), "tenant 'acme' already exists")
    assert as_json(ok(cli("tenant", "list", "--json"))) == [
        {"id": 1, "name": "acme"},
        {"id": 2, "name": "beta"},
    ]

    added = ok(cli(*add_args("core", sim), "--password-stdin", stdin=PASSWORD + "\n"))
    assert added.stdout.strip() == f"router core added (id 1) at 127.0.0.1:{sim.port}"
    ok(cli(*add_args("edge", sim, "beta", "--password-env", "PI_TEST_PW"), env={"PI_TEST_PW": PASSWORD}))

    # Never on the command line: there is no option for it, and a refused attempt is not echoed back.
    rejected = run_cli(*add_args("leak", sim), "--password", PASSWORD)
    assert rejected.returncode == 2
    assert rejected.stderr.startswith("error: no password on the command line: use --password-stdin")
    for attempt in (["-p", PASSWORD], ["--pass", PASSWORD], [f"--pw={PASSWORD}"]):
        out, err = io.StringIO(), io.StringIO()
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            pytest.raises(SystemExit) as exit_,
        ):
            main([*add_args("leak", sim), "--password-stdin", *attempt])
        assert exit_.value.code == 2 and "error: unrecognized arguments" in err.getvalue()
        assert PASSWORD not in err.getvalue() + out.getvalue()

    fails(here(*add_args("nopw", sim), "--password-stdin", stdin=""), "no password on standard input")
    monkeypatch.delenv("PI_UNSET", raising=False)
    fails(
        here(*add_args("nopw", sim), "--password-env", "PI_UNSET"), "environment variable PI_UNSET is not set"
    )
    fails(
        cli(*add_args("badport", None), "--port", "70000", "--password-stdin", stdin=PASSWORD),
        "port must be 1-65535, got 70000",
    )
    fails(
        here(*add_args("badport", None), "--port", "0", "--password-stdin", stdin=PASSWORD),
        "port must be 1-65535, got 0",
    )
    fails(
        here(*add_args("badenc", sim), "--encoding", "klingon", "--password-stdin", stdin=PASSWORD),
        "unknown encoding 'klingon'",
    )
    fails(
        here(*add_args("core", sim), "--password-stdin", stdin=PASSWORD),
        "tenant 'acme' already has a router named 'core'",
    )
    fails(here(*add_args("x", sim, "nosuch"), "--password-stdin", stdin=PASSWORD), "no tenant named 'nosuch'")

    routers = as_json(ok(cli("router", "list", "--json")))
    assert [(r["id"], r["name"], r["tenant"], r["port"]) for r in routers] == [
        (1, "core", "acme", sim.port),
        (2, "edge", "beta", sim.port),
    ]
    assert all(r["last_status"] is None and r["pools"] == 0 for r in routers)
    # Whether a password must be entered again is listed; nothing of the password itself is.
    assert [key for key in routers[0] if "password" in key] == ["password_needed"]
    table = ok(here("router", "list")).stdout
    assert table.splitlines()[0].split()[:3] == ["ID", "NAME", "TENANT"]

    # Both ways of giving the password stored one that logs in.
    assert as_json(ok(here("router", "test", "edge", "--json")))["ok"] is True
    assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True


def test_router_test_ok_and_failing(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    cli: Callable[..., Result],
    here: Callable[..., Result],
) -> None:
    add_router(sim, name="core")
    add_router(None, name="down", port=1)  # nothing listens on port 1
    report = as_json(ok(cli("router", "test", "core", "--json")))
    assert report["ok"] is True and report["error"] is None
    assert (report["router"], report["identity"], report["version"]) == (
        "core",
        "test-router",
        "7.16.2 (stable)",
    )
    assert isinstance(report["rtt_ms"], float) and report["rtt_ms"] >= 0
    text_report = ok(here("router", "test", "core")).stdout
    assert "test-router" in text_report and "rtt_ms" in text_report

    failed = fails(cli("router", "test", "down"), "down: connection refused by 127.0.0.1:1")
    assert failed.stderr.count("\n") == 1
    sim.faults.refuse_logins = True
    fails(here("router", "test", "core"), "invalid user name or password (6)")

    routers = {r["name"]: r for r in as_json(ok(here("router", "list", "--json")))}
    assert routers["down"]["last_status"] == "error"
    assert routers["down"]["last_error"] == "connection refused by 127.0.0.1:1"
    assert routers["core"]["last_status"] == "error"
    assert "invalid user name or password (6)" in routers["core"]["last_error"]
    assert routers["core"]["identity"] == "test-router"  # from the last good test
    assert sim.connections_served == 3


# -- import, pools, addresses ---------------------------------------------------------------------------


def test_import_sync_json_and_the_stored_pools(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    cli: Callable[..., Result],
    here: Callable[..., Result],
) -> None:
    router_id = add_router(sim, name="core")
    result = ok(cli("import", "core", "--sync", "--json"))
    data = sync_result(result)
    assert {"status", "router", "pools", "addresses", "errors", "warnings"} <= set(data)
    assert (data["status"], data["router"]) == ("succeeded", "core")
    assert data["pools"] == {"total": 3, "imported": 3, "failed": 0, "stale": 0}
    assert data["addresses"] == {"added": 170, "updated": 0, "stale": 0, "total": 170}
    assert data["errors"] == [] and data["warnings"] == []
    assert result.stderr == ""

    again = sync_result(ok(here("import", str(router_id), "--sync", "--json")))  # by id
    assert again["addresses"] == {"added": 0, "updated": 0, "stale": 0, "total": 170}

    pool_list = as_json(ok(cli("pools", "core", "--json")))
    keys = {"name", "family", "ranges", "prefix_length", "next_pool", "comment", "total", "expanded", "used"}
    assert all(keys | {"free", "status"} <= set(pool) for pool in pool_list)
    by_name = {pool["name"]: pool for pool in pool_list}
    pppoe = by_name["pppoe"]
    assert (pppoe["family"], pppoe["ranges"], pppoe["prefix_length"], pppoe["next_pool"]) == (
        4,
        "100.64.0.2-100.64.0.101",
        None,
        None,
    )
    assert (pppoe["comment"], pppoe["total"], pppoe["expanded"], pppoe["status"]) == (
        "subscribers",
        100,
        True,
        "active",
    )
    assert (pppoe["used"], pppoe["free"]) == (2, 98)
    assert by_name["static"]["next_pool"] == "pppoe"
    assert (by_name["v6"]["family"], by_name["v6"]["prefix_length"], by_name["v6"]["used"]) == (6, 126, 1)
    assert as_json(ok(here("pools", str(router_id), "--json"))) == pool_list

    used = as_json(ok(cli("addresses", "core", "pppoe", "--status", "used", "--json")))
    assert used == [
        {"address": "100.64.0.2", "status": "used", "owner": "alice", "info": "pppoe-out1"},
        {"address": "100.64.0.3", "status": "used", "owner": "bob", "info": "pppoe-out2"},
    ]
    free = as_json(ok(here("addresses", "core", "v6", "--status", "free", "--limit", "2", "--json")))
    assert free == [
        {"address": "2001:db8::/126", "status": "free", "owner": None, "info": None},
        {"address": "2001:db8::8/126", "status": "free", "owner": None, "info": None},
    ]
    fails(here("addresses", "core", "nosuch", "--json"), "router core has no pool named 'nosuch'")
    fails(here("pools", "nosuch"), "no router 'nosuch'")

    text_result = ok(here("import", "core", "--sync"))
    assert text_result.stdout.startswith("core: succeeded in ")
    assert "addresses: 0 added, 0 updated, 0 stale, 170 total" in text_result.stdout


def test_import_exit_status_for_partial_and_failed(
    engine: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    cli: Callable[..., Result],
    here: Callable[..., Result],
) -> None:
    config = router_config()
    config["menus"]["/ip/pool"][1]["ranges"] = "10.10.0.1-10.10.0.300"
    sim = sim_factory(config)
    add_router(sim, name="core")

    partial = cli("import", "core", "--sync", "--json")
    assert partial.returncode != 0
    data = sync_result(partial)
    assert data["status"] == "partial"
    assert data["pools"] == {"total": 3, "imported": 2, "failed": 1, "stale": 0}
    assert data["errors"] == [
        {"pool": "static", "message": "bad address '10.10.0.300' in '10.10.0.1-10.10.0.300'"}
    ]

    text_partial = here("import", "core", "--sync")
    assert text_partial.returncode != 0
    assert "error: pool static: bad address '10.10.0.300'" in text_partial.stderr

    sim.stop()
    failed = cli("import", "core", "--sync", "--json")
    assert failed.returncode != 0
    data = sync_result(failed)
    assert data["status"] == "failed"
    assert data["pools"]["total"] == 0
    assert data["errors"] == [
        {"pool": None, "message": f"reading pools failed: connection refused by 127.0.0.1:{sim.port}"}
    ]
    text_failed = here("import", "core", "--sync")
    assert text_failed.returncode != 0 and text_failed.stdout.startswith("core: failed in ")
    assert f"error: reading pools failed: connection refused by 127.0.0.1:{sim.port}" in text_failed.stderr
    pools = {pool["name"]: pool for pool in as_json(ok(here("pools", "core", "--json")))}
    assert {name: pool["status"] for name, pool in pools.items()} == {"pppoe": "active", "v6": "active"}


def test_import_dry_run_writes_nothing(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    cli: Callable[..., Result],
    here: Callable[..., Result],
) -> None:
    add_router(sim, name="core")
    before = table_dump(engine)
    data = sync_result(ok(cli("import", "core", "--sync", "--dry-run", "--json")))
    assert data["status"] == "succeeded" and data["dry_run"] is True
    assert data["addresses"] == {"added": 170, "updated": 0, "stale": 0, "total": 170}
    assert [(d["name"], d["outcome"], d["added"]) for d in data["details"]] == [
        ("pppoe", "added", 100),
        ("static", "added", 6),
        ("v6", "added", 64),
    ]
    text_result = ok(here("import", "core", "--sync", "--dry-run"))
    assert "(dry run)" in text_result.stdout and "dry run: 3 of 3 pools would change" in text_result.stdout
    assert table_dump(engine) == before


def test_a_router_name_in_two_tenants_needs_tenant(
    engine: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    cli: Callable[..., Result],
    here: Callable[..., Result],
) -> None:
    first, second = sim_factory(), sim_factory(router_config(identity="other-router"))
    add_router(first, name="core", tenant="acme")
    add_router(second, name="core", tenant="beta")
    fails(cli("import", "core", "--sync"), "router 'core' exists in tenants acme, beta: pass --tenant")
    fails(here("router", "test", "core"), "pass --tenant")
    fails(here("pools", "core"), "pass --tenant")
    report = as_json(ok(here("router", "test", "core", "--tenant", "beta", "--json")))
    assert report["identity"] == "other-router"
    data = sync_result(ok(cli("import", "core", "--tenant", "acme", "--sync", "--json")))
    assert data["status"] == "succeeded"
    assert (first.connections_served, second.connections_served) == (1, 1)
    assert as_json(ok(here("pools", "core", "--tenant", "beta", "--json"))) == []
    fails(here("pools", "core", "--tenant", "nosuch"), "no tenant named 'nosuch'")


def test_a_router_named_like_a_number(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], here: Callable[..., Result]
) -> None:
    add_router(sim, name="core")  # id 1
    add_router(sim, name="1", tenant="beta")  # id 2, named "1"
    ok(here("import", "2", "--sync"))  # no router is named "2": id 2
    assert [p["name"] for p in as_json(ok(here("pools", "1", "--json")))] == ["pppoe", "static", "v6"]
    assert as_json(ok(here("pools", "core", "--json"))) == []  # the name "1" won over id 1


# -- the password -----------------------------------------------------------------------------------------


def test_the_password_never_appears_in_output_database_or_log(
    home: Path,
    sim: SimServer,
    cli: Callable[..., Result],
    here: Callable[..., Result],
    outputs: list[Result],
) -> None:
    from poolimport.core.config import load_settings
    from poolimport.core.db import get_engine
    from poolimport.core.jobs.runner import execute_job

    ok(here("init"))
    ok(here("tenant", "add", "acme"))
    ok(cli(*add_args("core", sim), "--password-stdin", stdin=PASSWORD + "\n"))
    wrong = "Wr0ng-" + PASSWORD[::-1]
    ok(here(*add_args("bad", sim), "--password-env", "PI_PW", env={"PI_PW": wrong}))
    ok(here("router", "test", "core", "--json"))
    fails(cli("router", "test", "bad", "--json"), "invalid user name or password (6)")
    ok(here("import", "core", "--sync", "--json"))
    fails(here("import", "bad", "--sync"), "invalid user name or password (6)")
    # Queued jobs, run here by the job runner, exercise the job events and the file log.
    settings = load_settings()
    for name in ("core", "bad"):
        job_id = as_json(ok(here("import", name, "--json")))["job_ids"][0]
        execute_job(get_engine(settings), settings, job_id)
    ok(here("jobs", "--json"))
    ok(here("logs", "2", "--json"))
    ok(here("job", "show", "2", "--json"))
    ok(here("router", "list", "--json"))

    log_files = list((home / "logs").glob("poolimport.log*"))
    assert log_files and "invalid user name or password (6)" in log_files[0].read_text()
    scanned = assert_secrets_absent(home.parent, [PASSWORD, wrong], [settings.key_file])
    assert {home / "poolimport.db", *log_files} <= set(scanned)
    for result in outputs:
        assert wrong not in result.stdout + result.stderr


def test_router_test_does_not_hold_the_database_write_lock_while_it_waits(
    engine: Engine, add_router: Callable[..., int], settings: Settings
) -> None:
    """A router that doesn't answer must not block imports and heartbeats (SQLite has one writer)."""
    listener = socket.socket()  # accepts in the kernel, never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(30)
    port = listener.getsockname()[1]
    add_router(None, name="deaf", port=port, timeout=3.0)
    proc = subprocess.Popen(
        [sys.executable, "-m", "poolimport.cli", "router", "test", "deaf"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        conn, _ = listener.accept()  # the command is now waiting on the router
        db = sqlite3.connect(str(settings.home / "poolimport.db"), timeout=0.5, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")  # "database is locked" if the command holds the write lock
            db.execute("ROLLBACK")
        finally:
            db.close()
        _, stderr = proc.communicate(timeout=30)
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()
    assert proc.returncode == 1
    assert stderr.strip() == f"error: deaf: timed out after 3 s logging in to 127.0.0.1:{port}"
    with engine.connect() as db_conn:
        assert db_conn.scalar(text("SELECT last_status FROM routers WHERE name = 'deaf'")) == "error"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("jobs", "--status", "bogus"), "queued, running, stalled, succeeded, partial, failed, cancelled"),
        (("addresses", "r1", "p", "--status", "bogus"), "free, used, stale"),
    ],
)
def test_a_status_not_among_the_choices_lists_them_as_words(args: tuple[str, ...], words: str) -> None:
    out = run_cli(*args)
    assert out.returncode == 2 and "<" not in out.stderr, out.stderr
    assert words in out.stderr.replace("'", ""), out.stderr
