"""The TUI on a fleet-sized database: 1,000 routers, 10,000 jobs and one job with 100,000 log lines.

python benchmarks/bench_tui.py                 # about two minutes
python benchmarks/bench_tui.py --idle 30       # longer CPU windows: steadier on a busy machine

Measured, each against the same app on an empty database in the same run (the baseline: what Textual
itself costs at rest, with the same panes and polls):
- idle CPU, as a share of one core, of the real `poolimport-tui` in a pseudo-terminal (120x40), with no job
  running, then with one live job whose progress and log move as an import's would;
- how long until the big job's newest log line is on screen, from the app's start;
- cursor movement: the time each `down` key takes to be handled, pressed every 0.1 s from the start (while
  the big log loads and the first polls land), p50/p95/max, through Textual's Pilot.
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import os
import pty
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import bench_home  # noqa: E402

SIZE = (120, 40)
OPERATOR = getpass.getuser()  # the account the TUI runs as: an administrator here
DOWN, UP = b"\x1b[B", b"\x1b[A"


@dataclass(frozen=True)
class Fleet:
    routers: int
    jobs: int
    big_log: int  # lines of the newest job's log

    @property
    def newest_line(self) -> bytes:
        return f"line {self.big_log}".encode()

    def __str__(self) -> str:
        return f"{self.routers:,} routers, {self.jobs:,} jobs, one job with {self.big_log:,} lines"


FLEET = Fleet(routers=1000, jobs=10_000, big_log=100_000)
# The baseline: the same app, panes and polls on a database that is no trouble to read.
SMALL = Fleet(routers=10, jobs=10, big_log=500)


def router_name(n: int) -> bytes:
    return f"bng-{n:04d}".encode()


@dataclass
class Figures:
    idle_cpu: float  # share of one core
    live_cpu: float
    log_open: float  # seconds from start to the newest line of the big log
    cursor_ms: list[float]


def seed(engine: Any, fleet: Fleet) -> None:
    """An admin operator, the routers, jobs and the big job's log, in a few bulk inserts."""
    from sqlalchemy import insert

    from poolimport.core.db import session_scope
    from poolimport.core.models import ImportJob, IpPool, JobEvent, Operator, Router, Tenant, utcnow
    from poolimport.core.statuses import JobStatus

    with session_scope(engine) as session:
        session.add(Operator(name=OPERATOR, tenant_id=None, role="admin"))
    routers, jobs = fleet.routers, fleet.jobs
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(Tenant), [{"id": 1, "name": "fleet"}])
        conn.execute(
            insert(Router),
            [
                {
                    "id": n,
                    "tenant_id": 1,
                    "name": router_name(n).decode(),
                    "host": f"10.{n // 250}.{n % 250}.1",
                    "port": 8728,
                    "username": "api",
                    "password_encrypted": b"",
                }
                for n in range(1, routers + 1)
            ],
        )
        conn.execute(
            insert(IpPool),
            [
                {
                    "router_id": n,
                    "name": "pppoe",
                    "family": 4,
                    "ranges": "100.64.0.1-100.64.3.254",
                    "total": 1020,
                    "used_count": n % 1000,
                    "free_count": 1020 - n % 1000,
                }
                for n in range(1, routers + 1)
            ],
        )
        statuses = [JobStatus.SUCCEEDED] * 8 + [JobStatus.FAILED, JobStatus.PARTIAL]
        conn.execute(
            insert(ImportJob),
            [
                {
                    "id": n,
                    "router_id": n % routers + 1,
                    "tenant_id": 1,
                    "requested_by": OPERATOR,
                    "status": statuses[n % len(statuses)],
                    "queued_at": now - timedelta(seconds=jobs - n + 60),
                    "started_at": now - timedelta(seconds=jobs - n + 59),
                    "finished_at": now - timedelta(seconds=jobs - n + 50),
                    "pools_done": 1,
                    "pools_total": 1,
                    "addresses_done": 1020,
                    "addresses_total": 1020,
                    "error": "connection refused"
                    if statuses[n % len(statuses)] == JobStatus.FAILED
                    else None,
                }
                for n in range(1, jobs + 1)
            ],
        )
        conn.execute(
            insert(JobEvent),
            [
                {"job_id": jobs, "level": "info", "kind": None, "message": f"line {n}"}
                for n in range(1, fleet.big_log + 1)
            ],
        )


class LiveJob:
    """One running job whose heartbeat, progress and log move as an import's do, from another thread."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LiveJob:
        from sqlalchemy import insert

        from poolimport.core.models import ImportJob, utcnow

        with self.engine.begin() as conn:
            self.job_id = conn.execute(
                insert(ImportJob).returning(ImportJob.id),
                {
                    "router_id": 1,
                    "tenant_id": 1,
                    "requested_by": OPERATOR,
                    "status": "running",
                    "started_at": utcnow(),
                    "heartbeat_at": utcnow(),
                    "pools_total": 1,
                    "addresses_total": 65_533,
                },
            ).scalar_one()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        from sqlalchemy import insert, update

        from poolimport.core.models import ImportJob, JobEvent, utcnow

        done = 0
        while not self.stop.wait(0.5):  # the writer's batch: a heartbeat, progress and a line each time
            done = min(done + 2048, 65_533)
            with self.engine.begin() as conn:
                conn.execute(
                    update(ImportJob)
                    .where(ImportJob.id == self.job_id)
                    .values(addresses_done=done, heartbeat_at=utcnow())
                )
                conn.execute(
                    insert(JobEvent),
                    {"job_id": self.job_id, "level": "debug", "kind": None, "message": f"{done} written"},
                )


@contextmanager
def database(fleet: Fleet) -> Iterator[tuple[Any, Path]]:
    with bench_home() as home:
        from poolimport.core import schema
        from poolimport.core.config import load_settings
        from poolimport.core.db import get_engine

        engine = get_engine(load_settings())
        schema.upgrade(engine)
        seed(engine, fleet)
        yield engine, home


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TuiInPty:
    """The real `poolimport-tui` in a pseudo-terminal of SIZE; what it draws is kept, to wait for text."""

    def __init__(self) -> None:
        self.output = bytearray()
        self.chunks: list[tuple[int, float]] = []  # (output length after a read, when it was read)
        self.changed = threading.Condition()

    def __enter__(self) -> TuiInPty:
        self.leader, follower = pty.openpty()
        columns, lines = SIZE
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        program = Path(sys.executable).parent / "poolimport-tui"
        env = {**os.environ, "TERM": "xterm-256color"}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(program)], stdin=follower, stdout=follower, stderr=follower, env=env, start_new_session=True
        )
        os.close(follower)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait()
        os.close(self.leader)

    def _read(self) -> None:
        try:
            while chunk := os.read(self.leader, 65536):
                with self.changed:
                    self.output += chunk
                    self.chunks.append((len(self.output), time.perf_counter()))
                    self.changed.notify_all()
        except OSError:
            pass

    def wait_for(self, text: bytes, after: int = 0, timeout: float = 120.0) -> float:
        """Seconds until `text` is drawn (searched from byte `after` of the output)."""
        deadline = time.perf_counter() + timeout
        with self.changed:
            while text not in self.output[after:]:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the TUI ended: {bytes(self.output[-400:])!r}")
                if not self.changed.wait(deadline - time.perf_counter()):
                    raise TimeoutError(f"{text!r} not drawn in {timeout} s: {bytes(self.output[-3000:])!r}")
        return time.perf_counter()

    def drawn_at(self, text: bytes) -> float:
        """When `text` was first drawn whole."""
        with self.changed:
            end = self.output.index(text) + len(text)
            return next(when for length, when in self.chunks if length >= end)

    def press(self, key: bytes, then_drawn: bytes) -> float:
        """Milliseconds from sending `key` until `then_drawn` appears in what is drawn after it."""
        with self.changed:
            mark = len(self.output)
        sent = time.perf_counter()
        os.write(self.leader, key)
        return (self.wait_for(then_drawn, mark, timeout=30) - sent) * 1000

    def cpu_share(self, seconds: float) -> float:
        before, started = cpu_seconds(self.proc.pid), time.monotonic()
        time.sleep(seconds)
        return (cpu_seconds(self.proc.pid) - before) / (time.monotonic() - started)


def measure(engine: Any, fleet: Fleet, idle: float, presses: int) -> Figures:
    with TuiInPty() as tui:
        tui.wait_for(router_name(1))
        cursor = []
        for n in range(presses):  # from the first frame on: while the big log loads and the first polls land
            key, shown = (DOWN, router_name(2)) if n % 2 == 0 else (UP, router_name(1))
            cursor.append(tui.press(key, shown))
            time.sleep(0.1)
        tui.wait_for(fleet.newest_line)
        log_open = tui.drawn_at(fleet.newest_line) - tui.started
        time.sleep(3)
        quiet = tui.cpu_share(idle)
        with LiveJob(engine):
            time.sleep(2)
            live = tui.cpu_share(idle)
    return Figures(quiet, live, log_open, cursor)


def run(fleet: Fleet, idle: float, presses: int) -> Figures:
    with database(fleet) as (engine, _home):
        return measure(engine, fleet, idle, presses)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def report(fleet: Fleet, f: Figures, base: Figures | None) -> None:
    def line(what: str, shown: str, value: float, baseline: float | None) -> None:
        against = f"  ({value / baseline:.1f}x the baseline)" if baseline else ""
        print(f"  {what:<20} {shown}{against}")

    p95 = percentile(f.cursor_ms, 95)
    print(f"{fleet}{'' if base else ' (baseline)'}:")
    line("idle CPU", f"{f.idle_cpu:6.1%} of a core", f.idle_cpu, base and base.idle_cpu)
    line("CPU with a live job", f"{f.live_cpu:6.1%} of a core", f.live_cpu, base and base.live_cpu)
    line("newest log line", f"{f.log_open:6.2f} s after start", f.log_open, base and base.log_open)
    cursor = f"p50 {statistics.median(f.cursor_ms):.1f} ms, p95 {p95:.1f} ms, max {max(f.cursor_ms):.1f} ms"
    line("cursor key", cursor, p95, base and percentile(base.cursor_ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of each CPU window")
    parser.add_argument("--presses", type=int, default=100, help="cursor keys pressed, one every 0.1 s")
    args = parser.parse_args()
    print(f"TUI at {SIZE[0]}x{SIZE[1]}, Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    small = run(SMALL, args.idle, args.presses)
    report(SMALL, small, None)
    fleet = run(FLEET, args.idle, args.presses)
    report(FLEET, fleet, small)
    print("targets: idle CPU under 3% of a core with or without a live job; cursor p95 under 50 ms;")
    print("         the newest log line in under 2 s")


if __name__ == "__main__":
    main()
