"""Queue latency: enqueue (job row + queue message) and pickup (queued -> running with an idle consumer).

python benchmarks/bench_queue.py                       # SQLite queue
POOLIMPORT_TEST_QUEUE_URL=redis://127.0.0.1:6379/15 python benchmarks/bench_queue.py   # and Redis
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import bench_home, setup_router, sim_config, sim_process  # noqa: E402

ENQUEUES = 200
PICKUPS = 20


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def add_routers(engine, settings, port: int, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    from poolimport.core.access.tenancy import Scope
    from poolimport.core.db import session_scope
    from poolimport.core.routers.fields import RouterFields
    from poolimport.core.routers.records import save_router

    admin = Scope(operator="bench", tenant_ids=None, role="admin")
    with session_scope(engine) as session:
        return [
            save_router(
                session,
                admin,
                settings,
                "bench",
                RouterFields(name=f"r{n}", host="127.0.0.1", port=port, username="admin"),
                "bench",
            ).id
            for n in range(count)
        ]


def enqueue(engine, settings, queue, router_id: int) -> int:  # type: ignore[no-untyped-def]
    from poolimport.core.access.tenancy import Scope
    from poolimport.core.db import session_scope
    from poolimport.core.jobs import lifecycle as jobs
    from poolimport.core.models import Router

    admin = Scope(operator="bench", tenant_ids=None, role="admin")
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        job_id = jobs.create_job(session, admin, router, time_limit=60, heartbeat_interval=10).id
    jobs.dispatch(engine, job_id, queue.send_import)
    return job_id


def pickup_seconds(engine, job_id: int) -> float:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from poolimport.core.models import ImportJob

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(
                select(ImportJob.queued_at, ImportJob.started_at).where(ImportJob.id == job_id)
            ).one()
        if row.started_at is not None:
            return (row.started_at - row.queued_at).total_seconds()
        time.sleep(0.01)
    raise RuntimeError(f"job {job_id} was not picked up within 30 s")


def run(queue_url: str | None) -> None:
    label = queue_url or "sqlite (default)"
    with sim_process(sim_config([])) as port, bench_home():
        if queue_url:
            os.environ["POOLIMPORT_QUEUE_URL"] = queue_url
        else:
            os.environ.pop("POOLIMPORT_QUEUE_URL", None)
        engine, settings, first = setup_router(port)
        routers = [first, *add_routers(engine, settings, port, ENQUEUES)]
        from poolimport.queue.app import QueueClient

        queue = QueueClient.from_settings(settings)  # as the CLI and the TUI do: once, from the settings
        if queue_url and queue_url.startswith("redis"):
            queue.huey.flush()
        latencies = []
        for router_id in routers[:ENQUEUES]:
            started = time.perf_counter()
            enqueue(engine, settings, queue, router_id)
            latencies.append(time.perf_counter() - started)
        queue.huey.flush()  # the consumer below should find an empty queue
        from sqlalchemy import update

        from poolimport.core.models import ImportJob

        with engine.begin() as conn:
            conn.execute(update(ImportJob).values(status="cancelled"))
        worker = subprocess.Popen(
            [sys.executable, "-m", "poolimport.cli", "worker", "-w", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            pickups = []
            rng = random.Random(7)
            for router_id in routers[ENQUEUES - PICKUPS : ENQUEUES]:
                time.sleep(rng.uniform(0.5, 2.0))  # let the consumer go idle and back off
                pickups.append(pickup_seconds(engine, enqueue(engine, settings, queue, router_id)))
        finally:
            worker.terminate()
            worker.wait()
    ms = [v * 1000 for v in latencies]
    pk = [v * 1000 for v in pickups]
    print(f"queue: {label}")
    print(
        f"  enqueue over {len(ms)}: p50 {statistics.median(ms):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms"
        "   (target p50 < 20 ms)"
    )
    print(
        f"  pickup over {len(pk)} (idle consumer): p50 {statistics.median(pk):6.1f} ms"
        f"  p95 {percentile(pk, 95):6.1f} ms"
        f"   (target p95 < {'100 ms' if queue_url else '1 s'})"
    )


def main() -> None:
    run(None)
    redis_url = os.environ.get("POOLIMPORT_TEST_QUEUE_URL")
    if redis_url:
        run(redis_url)
    else:
        print("queue: redis skipped (set POOLIMPORT_TEST_QUEUE_URL=redis://127.0.0.1:6379/15 to measure it)")


if __name__ == "__main__":
    main()
