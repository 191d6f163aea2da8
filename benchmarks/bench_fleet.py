"""Fleet throughput: a sweep of many simulated routers imported by real consumers (`poolimport worker`), on
SQLite (database and queue) and on PostgreSQL with a Redis queue.

python benchmarks/bench_fleet.py --quick        # a smoke run: 40 small routers and 1 busy one, both backends
python benchmarks/bench_fleet.py                # 1,000 small routers and 3 busy ones, both backends
python benchmarks/bench_fleet.py --routers 300 --busy 2 --consumers 2 --workers 4 --backends sqlite

A sweep is what `poolimport import --all` starts: from the command's start (every job enqueued) until the
last job has finished. Reported per backend: routers per minute over the sweep, the sweep's time, the
enqueue's share of it, the jobs' own times (started to finished, from the database) at p50 and p95 and the
busy routers' longest, and how much of the sweep the worker threads spent in jobs (low: they waited for
the enqueue, and more workers would not help).
Consumers start, and import a warm-up tenant's routers, before the clock starts.

The simulators run in child processes, a few hundred routers each. PostgreSQL gets a schema of its own in
the database of POOLIMPORT_TEST_POSTGRES_URL, dropped afterwards. The Redis queue uses the database of
--redis-url (default 9; the tests use 11 to 15); the queue's name is poolimport's own, so the run refuses
to start while another client uses that database (a consumer there would take the sweep's messages), and
removes only the queue's keys at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SIM_PASSWORD, bench_home, sim_config  # noqa: E402

POSTGRES_URL = os.environ.get(
    "POOLIMPORT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/9"  # the tests use 11 to 15
SIMS_PER_PROCESS = 200  # 3 descriptors each, and select() stops at descriptor 1024
BACKENDS = ("sqlite", "postgres")
SWEEP_DEADLINE = 3600.0
STALLED_AFTER = 120.0  # seconds without a job finishing: messages lost, consumers dead
FLEET, WARM_UP = "fleet", "warm-up"

# A small router: a /24 of PPPoE subscribers and a /26 of static addresses, 20 of them in use.
SMALL = sim_config(
    [
        {"name": "pppoe", "ranges": "100.64.0.2-100.64.0.254"},
        {"name": "static", "ranges": "10.10.0.0/26"},
    ],
    [
        {"pool": "pppoe", "address": f"100.64.0.{n + 2}", "owner": f"user{n}", "info": "pppoe"}
        for n in range(20)
    ],
)
# A busy one, as in bench_import: a /16 less network, gateway and broadcast, 2,000 addresses in use.
BUSY = sim_config(
    [{"name": "pppoe", "ranges": "100.64.0.2-100.64.255.254"}],
    [
        {"pool": "pppoe", "address": f"100.64.{n // 250}.{n % 250 + 2}", "owner": f"user{n}", "info": "pppoe"}
        for n in range(2000)
    ],
)
SMALL_ADDRESSES, BUSY_ADDRESSES = 253 + 64, 65_533


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def poolimport_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "poolimport.cli", *args]


# -- simulators -------------------------------------------------------------------------------------------


def sim_host(configs_file: Path, ports_file: Path) -> None:
    """Child process: one SimServer per config in the file, until SIGTERM; their ports go to ports_file."""
    from poolimport.sim import server

    # Each SimServer's accept loop polls for its stop flag; stop() wakes it through a socketpair anyway,
    # and hundreds of loops polling 20 times a second would take a core from what is measured.
    server.ACCEPT_POLL = 2.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sims = [server.SimServer(config, port=0).start() for config in json.loads(configs_file.read_text())]
    partial = ports_file.with_suffix(".partial")
    partial.write_text(json.dumps([sim.port for sim in sims]))
    partial.rename(ports_file)
    while not stop.wait(1.0):
        pass
    for sim in sims:
        sim.stop(timeout=0.1)


@contextmanager
def sim_fleet(configs: list[dict[str, Any]]) -> Iterator[list[int]]:
    """The ports of one simulated router per config, served by child processes."""
    with tempfile.TemporaryDirectory(prefix="bench-fleet-sims-") as tmp:
        procs, ports_files = [], []
        for index in range(math.ceil(len(configs) / SIMS_PER_PROCESS)):
            part = configs[index * SIMS_PER_PROCESS : (index + 1) * SIMS_PER_PROCESS]
            configs_file, ports_file = Path(tmp) / f"configs-{index}.json", Path(tmp) / f"ports-{index}.json"
            configs_file.write_text(json.dumps(part))
            command = [sys.executable, __file__, "--sim-host", str(configs_file), str(ports_file)]
            procs.append(subprocess.Popen(command))
            ports_files.append(ports_file)
        try:
            deadline = time.monotonic() + 120
            while not all(path.exists() for path in ports_files):
                if time.monotonic() > deadline or any(proc.poll() is not None for proc in procs):
                    raise RuntimeError("the simulators did not start")
                time.sleep(0.1)
            yield [port for path in ports_files for port in json.loads(path.read_text())]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait()


# -- backends ---------------------------------------------------------------------------------------------


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose tables live in a schema of their own, dropped afterwards."""
    from sqlalchemy import create_engine, text

    server = create_engine(POSTGRES_URL)
    name = f"bench_fleet_{uuid.uuid4().hex[:8]}"
    with server.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}&application_name={name}"
    finally:
        from poolimport.core.db import dispose_engines

        dispose_engines()
        with server.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        server.dispose()


@contextmanager
def redis_queue(url: str) -> Iterator[str]:
    """The Redis queue at `url`, refused when it holds messages; its own keys are removed afterwards."""
    from huey.storage import RedisStorage

    from poolimport.queue.app import NAME

    storage = RedisStorage(NAME, url=url)
    db = storage.conn.connection_pool.connection_kwargs.get("db", 0)
    others = [client for client in storage.conn.client_list() if int(client["db"]) == db]
    if len(others) > 1:  # this one is among them
        raise SystemExit(
            f"{len(others) - 1} other client(s) use Redis database {db}: give another (--redis-url)"
        )
    if storage.queue_size() or storage.schedule_size():
        raise SystemExit(f"the queue {NAME!r} at {url} holds messages: give another database (--redis-url)")
    try:
        yield url
    finally:
        storage.flush_all()  # this queue's keys only: its list, schedule and results


@contextmanager
def backend(name: str, redis_url: str) -> Iterator[str]:
    """A fresh POOLIMPORT_HOME with the backend's database and queue URLs in the environment."""
    with bench_home(), ExitStack() as stack:
        os.environ.pop("POOLIMPORT_QUEUE_URL", None)
        if name == "postgres":
            os.environ["POOLIMPORT_DATABASE_URL"] = stack.enter_context(postgres_schema())
            os.environ["POOLIMPORT_QUEUE_URL"] = stack.enter_context(redis_queue(redis_url))
            yield "PostgreSQL + Redis"
        else:
            yield "SQLite + SQLite"
        os.environ.pop("POOLIMPORT_DATABASE_URL", None)
        os.environ.pop("POOLIMPORT_QUEUE_URL", None)


# -- the sweep --------------------------------------------------------------------------------------------


@dataclass
class Sweep:
    backend: str
    routers: int
    seconds: float
    enqueue_seconds: float
    job_seconds: list[float]
    busy_seconds: list[float]
    statuses: dict[str, int]
    worker_threads: int

    @property
    def per_minute(self) -> float:
        return self.routers / self.seconds * 60

    @property
    def workers_busy(self) -> float:
        """The share of the sweep the worker threads spent in jobs: low means they waited for the enqueue."""
        return sum(self.job_seconds + self.busy_seconds) / (self.seconds * self.worker_threads)


def add_routers(ports: dict[str, list[int]]) -> None:
    """The routers of each tenant (tenant -> simulator ports), through the same save as the CLI's."""
    from poolimport.core.access.tenancy import Scope
    from poolimport.core.config import load_settings
    from poolimport.core.db import get_engine, session_scope
    from poolimport.core.routers.fields import RouterFields
    from poolimport.core.routers.records import add_tenant, save_router

    settings = load_settings()
    admin = Scope(operator="bench", tenant_ids=None, role="admin")
    with session_scope(get_engine(settings)) as session:
        for tenant, tenant_ports in ports.items():
            add_tenant(session, admin, tenant)
            for n, port in enumerate(tenant_ports):
                fields = RouterFields(name=f"{tenant}-{n}", host="127.0.0.1", port=port, username="admin")
                save_router(session, admin, settings, tenant, fields, SIM_PASSWORD)


def import_all(tenant: str) -> list[int]:
    """`poolimport import --all --tenant TENANT`: the job ids it queued."""
    out = subprocess.run(
        poolimport_command("import", "--all", "--tenant", tenant, "--json"), capture_output=True, text=True
    )
    queued = json.loads(out.stdout) if out.stdout else {}
    if out.returncode != 0 or queued.get("refused"):
        raise RuntimeError(f"import --all refused: {out.stderr.strip() or queued.get('refused')}")
    return list(queued["job_ids"])


def finished_jobs(job_ids: list[int]) -> list[Any]:
    from sqlalchemy import select

    from poolimport.core.config import load_settings
    from poolimport.core.db import get_read_engine
    from poolimport.core.models import ImportJob
    from poolimport.core.statuses import FINISHED_JOB_STATUSES

    columns = (
        ImportJob.id,
        ImportJob.router_id,
        ImportJob.status,
        ImportJob.started_at,
        ImportJob.finished_at,
    )
    with get_read_engine(load_settings()).connect() as conn:
        stmt = select(*columns).where(ImportJob.id.in_(job_ids), ImportJob.status.in_(FINISHED_JOB_STATUSES))
        return list(conn.execute(stmt))


def wait_finished(job_ids: list[int], deadline: float) -> list[Any]:
    """The finished jobs, once all are; fails when none finished for STALLED_AFTER seconds."""
    count, changed = -1, time.monotonic()
    while True:
        done = finished_jobs(job_ids)
        if len(done) == len(job_ids):
            return done
        now = time.monotonic()
        if len(done) != count:
            count, changed = len(done), now
        if now > deadline or now - changed > STALLED_AFTER:
            raise RuntimeError(f"{len(job_ids) - len(done)} of {len(job_ids)} jobs unfinished, no progress")
        time.sleep(0.25)


def run_sweep(name: str, args: argparse.Namespace, logs: Path) -> Sweep:
    from poolimport.queue.process import spawn_worker, stop_worker

    configs = [SMALL] * args.routers + [BUSY] * args.busy + [SMALL] * args.consumers * args.workers
    with backend(name, args.redis_url) as label, sim_fleet(configs) as ports, ExitStack() as stack:
        fleet_ports, warm_up_ports = ports[: args.routers + args.busy], ports[args.routers + args.busy :]
        subprocess.run(poolimport_command("init"), check=True, stdout=subprocess.DEVNULL)
        add_routers({FLEET: fleet_ports, WARM_UP: warm_up_ports})
        for n in range(args.consumers):
            output = stack.enter_context((logs / f"{name}-consumer-{n}.log").open("wb"))
            stack.callback(stop_worker, spawn_worker(args.workers, output))
        wait_finished(import_all(WARM_UP), time.monotonic() + 120)

        started = time.perf_counter()
        job_ids = import_all(FLEET)
        enqueued = time.perf_counter()
        done = wait_finished(job_ids, time.monotonic() + SWEEP_DEADLINE)
        seconds = time.perf_counter() - started

    busy_routers = set(sorted(row.router_id for row in done)[args.routers :])
    times = {row.router_id: (row.finished_at - row.started_at).total_seconds() for row in done}
    statuses: dict[str, int] = {}
    for row in done:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return Sweep(
        backend=label,
        routers=len(job_ids),
        seconds=seconds,
        enqueue_seconds=enqueued - started,
        job_seconds=[t for router, t in times.items() if router not in busy_routers],
        busy_seconds=[t for router, t in times.items() if router in busy_routers],
        statuses=statuses,
        worker_threads=args.consumers * args.workers,
    )


def print_header(args: argparse.Namespace) -> None:
    print(
        f"fleet sweep: {args.routers:,} small routers (/24 + /26, {SMALL_ADDRESSES} addresses, 20 used)"
        f" and {args.busy} busy ones (/16, {BUSY_ADDRESSES:,} addresses, 2,000 used);"
        f" {args.consumers} consumer(s) x {args.workers} worker threads"
    )
    head = ["routers/min", "sweep", "enqueue", "job p50", "job p95", "busy max", "workers busy"]
    cells = " ".join(f"{h:>9}" for h in head[1:-1])
    print(f"  {'backend':20} {head[0]:>11} {cells} {head[-1]:>12}  statuses", flush=True)


def print_sweep(s: Sweep) -> None:
    jobs = [statistics.median(s.job_seconds), percentile(s.job_seconds, 95)]
    cells = [s.seconds, s.enqueue_seconds, *jobs, max(s.busy_seconds, default=math.nan)]
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(s.statuses.items()))
    times = " ".join(f"{cell:8.2f}s" for cell in cells)
    print(f"  {s.backend:20} {s.per_minute:11,.0f} {times} {s.workers_busy:11.0%}  {statuses}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--routers", type=int, default=1000, help="small routers in the sweep (1,000)")
    parser.add_argument("--busy", type=int, default=3, help="busy routers (a /16 each) in the sweep (3)")
    parser.add_argument("--consumers", type=int, default=2, help="`poolimport worker` processes (2)")
    parser.add_argument("--workers", type=int, default=2, help="worker threads per consumer (2)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgres (both)")
    parser.add_argument("--redis-url", default=REDIS_URL, help=f"the Redis queue's database ({REDIS_URL})")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 40 small routers, 1 busy")
    parser.add_argument("--logs", type=Path, help="keep the consumers' output in this folder")
    parser.add_argument("--sim-host", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim_host:
        sim_host(*args.sim_host)
        return
    if args.quick:
        args.routers, args.busy = 40, 1
    names = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}: {', '.join(BACKENDS)}")
    with tempfile.TemporaryDirectory(prefix="bench-fleet-logs-") as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        print_header(args)
        for name in names:
            print_sweep(run_sweep(name, args, logs))


if __name__ == "__main__":
    main()
