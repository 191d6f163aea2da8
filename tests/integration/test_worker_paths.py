"""Queue paths that had no test, through real `poolimport worker` consumers: `import --wait` and
`logs --follow` and their exit codes, a worker killed in the middle of a pool's write, a worker that comes
back after its job was declared stalled and retried, a consumer with the wrong key file."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Engine, select, text

from poolimport.core.config import Settings
from poolimport.core.db import get_read_engine, session_scope
from poolimport.core.events import EventKind
from poolimport.core.jobs.queries import event_rows, event_text
from poolimport.core.models import ImportJob
from poolimport.core.secrets.box import ensure_key_file
from poolimport.sim import SimServer
from tests.conftest import (
    ADMIN,
    EXPECTED_ADDRESSES,
    SLOW_ROW_DELAY,
    Consumer,
    menus,
    router_config,
    run_cli,
)
from tests.helpers import enqueue, kinds, of_kind, show, start_cli, wait_for, wait_status, words
from tests.stored import addresses, dump, pools, stored_address_count

pytestmark = pytest.mark.xdist_group("consumers")

TERMINAL = ("succeeded", "partial", "failed", "cancelled")


@pytest.fixture
def reader(settings: Settings) -> Engine:
    """The engine for the test's own looks at the database: on SQLite it never waits for the write lock,
    which a worker holds for the whole of each pool's write."""
    return get_read_engine(settings)


class Lines:
    """A process's output lines as they come, collected by a thread, for polls with wait_for."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def find(self, pattern: str) -> re.Match[str] | None:
        return next(filter(None, (re.search(pattern, line) for line in list(self.lines))), None)

    def all(self, timeout: float = 30) -> list[str]:
        """Every line, once the stream has ended."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the output did not end"
        return self.lines


def event_texts(engine: Engine, job_id: int) -> list[str]:
    with session_scope(engine) as session:
        return [event_text(event) for event in event_rows(session, ADMIN, job_id)]


def printed_events(lines: list[str]) -> list[str]:
    """The text of each `TIME LEVEL text` line printed for a job's events."""
    return [line.split(None, 2)[2] for line in lines]


def assert_followed(engine: Engine, lines: list[str], job_id: int, status: str) -> None:
    """Every event of the job printed once, in order, then the job's final status."""
    assert lines[-1] == f"job #{job_id} {status}"
    assert printed_events(lines[:-1]) == event_texts(engine, job_id)


def waited(result: subprocess.CompletedProcess[str], status: str, code: int) -> tuple[int, list[str]]:
    """The job id and the followed lines of `import ROUTER --wait`, checked for its status and exit code."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    queued, *lines = result.stdout.splitlines()
    match = re.fullmatch(r"job #(\d+) queued", queued)
    assert match, queued
    assert lines[-1] == f"job #{match[1]} {status}"
    return int(match[1]), lines


# -- import --wait and logs --follow -----------------------------------------------------------------------


def test_import_wait_prints_the_events_and_exits_with_the_jobs_status(
    reader: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    half = router_config()
    half["menus"]["/ip/pool"][1]["ranges"] = "10.10.0.1-10.10.0.300"
    locked = sim_factory()
    locked.faults.refuse_logins = True
    add_router(sim_factory(), name="good")
    add_router(sim_factory(half), name="half")
    add_router(locked, name="locked")
    add_router(sim_factory(router_config(faults={"row_delay": SLOW_ROW_DELAY})), name="slow", timeout=60)
    start_consumer()

    good_id, good = waited(run_cli("import", "good", "--wait"), "succeeded", 0)
    assert_followed(reader, good, good_id, "succeeded")
    assert words(EventKind.JOB_SUCCEEDED) in printed_events(good[:-1])

    partial_id, partial = waited(run_cli("import", "half", "--wait"), "partial", 3)
    assert_followed(reader, partial, partial_id, "partial")
    bad_pool = "Pool static: failed: bad address '10.10.0.300' in '10.10.0.1-10.10.0.300'"
    assert bad_pool in printed_events(partial[:-1])
    # Following a job that has already ended prints the same and exits the same way.
    again = run_cli("logs", str(partial_id), "--follow")
    assert (again.returncode, again.stdout.splitlines()) == (3, partial)

    failed_id, failed = waited(run_cli("import", "locked", "--wait"), "failed", 1)
    assert_followed(reader, failed, failed_id, "failed")
    assert any("invalid user name or password (6)" in line for line in failed)

    as_json = run_cli("import", "good", "--wait", "--json")
    assert as_json.returncode == 0, as_json.stderr
    printed = json.loads(as_json.stdout)  # as every `import --json` prints: the job at its end in results
    [row] = printed["results"]
    assert (printed["job_ids"], printed["refused"]) == ([row["id"]], [])
    assert (row["status"], row["router"], row["result"]["addresses"]["total"]) == ("succeeded", "good", 170)

    waiting = start_cli("import", "slow", "--wait")
    output = Lines(waiting.stdout)
    try:
        queued = wait_for(lambda: output.find(r"^job #(\d+) queued$"), 60, "the job to be queued")
        job_id = int(queued[1])
        wait_for(lambda: output.find("Connecting to 127.0.0.1"), 60, "the job to reach the router")
        cancelling = run_cli("cancel", str(job_id))
        assert cancelling.stdout == f"job #{job_id} cancelling\n", cancelling.stderr
        assert waiting.wait(timeout=60) == 4
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert_followed(reader, output.all()[1:], job_id, "cancelled")
    # good, and half less its failed static pool
    assert stored_address_count(reader) == EXPECTED_ADDRESSES + 100 + 64


def test_logs_follow_prints_events_while_the_job_runs_and_exits_with_its_status(
    reader: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
) -> None:
    sim = sim_factory(router_config(faults={"row_delay": SLOW_ROW_DELAY}))
    add_router(sim, name="slow", timeout=60)
    start_consumer()
    job_id = enqueue("slow")
    follow = start_cli("logs", str(job_id), "--follow")
    output = Lines(follow.stdout)
    try:
        wait_for(lambda: output.find("Connecting to 127.0.0.1"), 60, "the follower to print the connect")
        # Printed while the job still reads the router: it came as it happened, not at the job's end.
        with reader.connect() as conn:
            assert conn.scalar(select(ImportJob.status).where(ImportJob.id == job_id)) == "running"
        assert output.find("import completed") is None
        sim.faults.row_delay = 0
        assert follow.wait(timeout=60) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    lines = output.all()
    assert_followed(reader, lines, job_id, "succeeded")
    assert printed_events(lines[:-1])[-1] == words(EventKind.JOB_SUCCEEDED)


def test_a_consumer_with_another_key_file_fails_the_job_with_one_clear_line(
    reader: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_router(sim, name="core")
    other = tmp_path / "other.key"
    ensure_key_file(other)
    monkeypatch.setenv("POOLIMPORT_KEY_FILE", str(other))
    start_consumer()
    job_id, lines = waited(run_cli("import", "core", "--wait"), "failed", 1)
    message = "stored router password cannot be decrypted with this key file"
    assert f"{words(EventKind.ROUTER_READ_FAILED)}: {message}" in printed_events(lines[:-1])
    assert show(job_id)["error"] == f"reading pools failed: {message}"
    assert sim.connections_served == 0 and stored_address_count(reader) == 0


# -- a worker killed in the middle of a pool's write ---------------------------------------------------

POOL_SIZE = 16_382  # a /18 less its network and broadcast addresses
POOL_COUNT = 24  # seconds of writing in all: the kill lands inside one of them, well before the last
DYING_ROUTER = menus(
    ip=[{"name": f"p{n:02}", "ranges": f"10.{n}.0.1-10.{n}.63.254"} for n in range(POOL_COUNT)],
    ip_used=[
        {"pool": f"p{n:02}", "address": f"10.{n}.1.1", "owner": f"u{n}", "info": ""}
        for n in range(POOL_COUNT)
    ],
)


def rows_per_pool(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.name, count(a.id) FROM ip_pools p LEFT JOIN pool_addresses a ON a.pool_id = p.id"
                " GROUP BY p.name"
            )
        )
        return {name: int(count) for name, count in rows}


def test_a_worker_killed_while_writing_loses_only_the_pool_in_progress_and_the_retry_completes_it(
    reader: Engine,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    fast_heartbeat: None,
) -> None:
    add_router(sim_factory(DYING_ROUTER), name="core")
    victim = start_consumer(workers=1)
    job_id = enqueue("core")
    wait_for(
        lambda: any(
            json.loads(e.data_json)["pool"] == "p00" for e in of_kind(reader, job_id, EventKind.POOL_IMPORTED)
        ),
        60,
        "the first pool to be written",
    )
    victim.kill()

    # Each pool is all or nothing: the one being written when the kill came has no row at all.
    written = rows_per_pool(reader)
    assert 1 <= len(written) < POOL_COUNT
    assert set(written.values()) == {POOL_SIZE}
    # No consumer runs, so none retries it: it stays stalled until the operator's retry, whose id the test
    # then knows (a consumer started first would race the operator to it).
    assert wait_status(job_id, ("stalled",), timeout=30) == "stalled"
    retried = run_cli("retry", str(job_id), "--json")
    assert retried.returncode == 0, retried.stderr
    retry_id = json.loads(retried.stdout)["job_ids"][0]
    start_consumer()
    assert wait_status(retry_id, TERMINAL, timeout=120) == "succeeded"
    killed = show(job_id)
    assert killed["status"] == "failed" and "stalled" in killed["error"]
    assert not {EventKind.JOB_SUCCEEDED, EventKind.JOB_PARTIAL} & set(kinds(reader, job_id))
    total = POOL_COUNT * POOL_SIZE
    added = (POOL_COUNT - len(written)) * POOL_SIZE
    assert show(retry_id)["result"]["addresses"] == {"added": added, "updated": 0, "stale": 0, "total": total}
    assert rows_per_pool(reader) == {f"p{n:02}": POOL_SIZE for n in range(POOL_COUNT)}
    assert {(p.used_count, p.free_count) for p in pools(reader).values()} == {(1, POOL_SIZE - 1)}
    with reader.connect() as conn:
        duplicates = conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT pool_id, sort_key FROM pool_addresses"
                " GROUP BY pool_id, sort_key HAVING count(*) > 1) AS twice"
            )
        )
        succeeded = conn.scalar(text("SELECT count(*) FROM import_jobs WHERE status = 'succeeded'"))
    assert (duplicates, succeeded) == (0, 1)


# -- a worker that comes back after its job was taken over ---------------------------------------------


def process_state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def writable(path: str) -> bool:
    db = sqlite3.connect(path, timeout=0.5, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


def freeze(proc: subprocess.Popen[bytes], settings: Settings) -> None:
    """SIGSTOP the process at a moment it holds no SQLite write lock. Its heartbeat is a short write every
    0.4 s, and the consumer writes the queue: a frozen lock holder would block every other writer, which is
    not the case under test."""
    databases = [str(settings.home / "poolimport.db"), settings.queue_url.removeprefix("sqlite:///")]

    def frozen_outside_a_write() -> bool:
        proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: process_state(proc.pid) == "T", 10, "the worker to stop")
        if all(writable(path) for path in databases):
            return True
        proc.send_signal(signal.SIGCONT)
        return False

    wait_for(frozen_outside_a_write, 30, "a moment the worker holds no write lock")


def router_row(engine: Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT * FROM routers")).one())


def test_a_worker_back_after_its_job_was_taken_over_stops_and_writes_nothing(
    reader: Engine,
    settings: Settings,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    start_consumer: Callable[..., Consumer],
    fast_heartbeat: None,
) -> None:
    sim = sim_factory(router_config(faults={"row_delay": 2.0}))
    add_router(sim, name="core", timeout=60)
    original = start_consumer(workers=1)
    first = enqueue("core")
    wait_for(
        lambda: "Connecting to 127.0.0.1" in " ".join(event_texts(reader, first)), 60, "the job to connect"
    )
    freeze(original.process, settings)
    try:
        assert wait_status(first, ("stalled",), timeout=30) == "stalled"
        followed = run_cli("logs", str(first), "--follow")
        assert followed.returncode == 5 and followed.stdout.splitlines()[-1] == f"job #{first} stalled"

        # The router changes meanwhile, so an old run that wrote what it read would show in the pools;
        # one that wrote anything at all would show in the dump (last_seen) or the router row (last check).
        sim.faults.row_delay = 0
        sim.set_menu("/ip/pool/used", [{"pool": "pppoe", "address": "100.64.0.50", "owner": "dave"}])
        sim.set_menu(
            "/ip/pool",
            [*router_config()["menus"]["/ip/pool"], {"name": "extra", "ranges": "172.16.0.1-172.16.0.50"}],
        )
        retried = run_cli("retry", str(first), "--json")
        assert retried.returncode == 0, retried.stderr
        second = json.loads(retried.stdout)["job_ids"][0]
        start_consumer()
        assert wait_status(second, TERMINAL, timeout=60) == "succeeded"
        after_retry = dump(reader, skip=()), router_row(reader), show(second)
    finally:
        original.process.send_signal(signal.SIGCONT)

    def stopped_as_taken_over() -> bool:
        return any("taken over" in (e.data_json or "") for e in of_kind(reader, first, EventKind.JOB_FAILED))

    wait_for(stopped_as_taken_over, 60, "the old run to stop")
    assert any("job was taken over" in m for m in event_texts(reader, first))
    assert (dump(reader, skip=()), router_row(reader), show(second)) == after_retry
    old = show(first)
    assert old["status"] == "failed"
    assert old["error"].startswith("stalled: no heartbeat since") and old["error"].endswith("; retried")
    assert {name: (p.total, p.used_count) for name, p in pools(reader).items()} == {
        "pppoe": (100, 1),
        "static": (6, 0),
        "v6": (64, 1),
        "extra": (50, 0),
    }
    assert addresses(reader, "pppoe")["100.64.0.50"] == ("used", "dave", "")
    assert stored_address_count(reader) == EXPECTED_ADDRESSES + 50
