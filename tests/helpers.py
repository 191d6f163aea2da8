"""Helpers shared by the test modules: one poll-until, jobs through the real CLI, the simulator's open
sessions, and the scan that no secret was written anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, select

from poolimport.core.events import WORDING, EventKind
from poolimport.core.imports.pools.kind import POOLS
from poolimport.core.models import JobEvent
from poolimport.sim import SimServer
from tests.conftest import run_cli

# -- waiting ---------------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `condition()` until it is truthy and return its value; fail naming `what` after `timeout` s.

    The timeout is a generous bound on "eventually", not a measure of speed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# -- jobs, through the real `poolimport` command ---------------------------------------------------------


def start_cli(*args: str) -> subprocess.Popen[str]:
    """`poolimport ARGS` in the background, its output piped, for a test that acts while it runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "poolimport.cli", *args],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )


def show(job_id: int) -> dict[str, Any]:
    out = run_cli("job", "show", str(job_id), "--json")
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def job_status(job_id: int) -> str:
    return str(show(job_id)["status"])


def enqueue(router: str) -> int:
    out = run_cli("import", router, "--json")
    assert out.returncode == 0, out.stderr
    return int(json.loads(out.stdout)["job_ids"][0])


def wait_status(job_id: int, statuses: tuple[str, ...], timeout: float = 30.0) -> str:
    def reached() -> str | None:
        status = show(job_id)["status"]
        return status if status in statuses else None

    return str(wait_for(reached, timeout, f"job #{job_id} to be {'/'.join(statuses)}"))


def events(engine: Engine, job_id: int) -> list[Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)))


def kinds(engine: Engine, job_id: int) -> list[str | None]:
    """What happened to the job, in order, by event kind."""
    return [event.kind for event in events(engine, job_id)]


def of_kind(engine: Engine, job_id: int, kind: EventKind) -> list[Row[Any]]:
    return [event for event in events(engine, job_id) if event.kind == kind]


def words(kind: EventKind) -> str:
    """The words an event of `kind` is shown with, for an import of pools (kinds whose words take no
    other fields)."""
    return WORDING[kind][1].format(title=POOLS.title)


# -- the simulator ---------------------------------------------------------------------------------------


def open_sessions(sim: SimServer) -> int:
    with sim._lock:
        return len(sim._sessions)


def sim_threads(sim: SimServer) -> list[threading.Thread]:
    """The simulator's accept loop and one thread per open session."""
    with sim._lock:
        sessions = [session.thread for session in sim._sessions]
    return [thread for thread in (sim._accept_thread, *sessions) if thread is not None]


def assert_all_closed(sim: SimServer, timeout: float = 10.0) -> None:
    """The simulator ends a session when its client closes the socket: poll until none is left."""
    wait_for(lambda: open_sessions(sim) == 0, timeout, "every connection to the simulator to close")


# -- what an operator must never see -------------------------------------------------------------------

# The marks of an SQL statement or a driver's error: a message that holds one leaked the database's text.
SQL_WORDS = ("INSERT", "UPDATE", "SELECT", "[SQL", "parameters", "%(", "Background on this error")


# -- secrets ---------------------------------------------------------------------------------------------


def assert_secrets_absent(root: Path, secrets: Iterable[str], key_files: Iterable[Path]) -> list[Path]:
    """No file under `root` but the key files holds any of `secrets`; returns the files it read, so a test
    can check the scan covered what it must (the database, the logs, every consumer's output)."""
    skipped = {path.resolve() for path in key_files}
    secrets = list(secrets)
    scanned = [path for path in sorted(root.rglob("*")) if path.is_file() and path.resolve() not in skipped]
    for path in scanned:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} found in {path}"
    return scanned


# The Redis keys of this installation's queue: what a Redis test may delete (never the whole database).
QUEUE_KEYS = tuple(f"huey.{what}.poolimport" for what in ("redis", "schedule", "results"))
