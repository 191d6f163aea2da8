"""Fixed data for snapshot tests: every timestamp is pinned, so the screens render the same every run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.events import EventKind
from poolimport.core.imports.pools.writer import store_counts
from poolimport.core.models import ImportJob, IpPool, JobEvent, PoolAddress
from poolimport.core.routers.fields import RouterFields
from poolimport.core.routers.records import add_tenant, save_router
from tests.conftest import ADMIN

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pool_data(pool: str, addresses: int) -> dict[str, object]:
    """What an import logs with a pool it imported."""
    return {
        "pool": pool,
        "addresses": addresses,
        "outcome": "added",
        "added": addresses,
        "updated": 0,
        "stale": 0,
    }


def event_kind(data: dict[str, object]) -> str | None:
    if data.get("outcome") == "failed":
        return EventKind.POOL_FAILED
    return EventKind.POOL_IMPORTED if "outcome" in data else None


def seed(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        for tenant in ("northnet", "southwave"):
            add_tenant(session, ADMIN, tenant)
        for name, tenant, port in (
            ("core-pppoe", "northnet", 8728),
            ("edge-v6", "northnet", 8728),
            ("branch-locked", "southwave", 8729),
        ):
            router = save_router(
                session,
                ADMIN,
                settings,
                tenant,
                RouterFields(name=name, host=f"10.9.0.{port - 8720}", port=port, username="api"),
                "sample",
            )
            if name == "branch-locked":
                router.last_status, router.last_error = (
                    "error",
                    "login to 10.9.0.9:8729 as 'api' failed: invalid user name or password (6)",
                )
    with engine.begin() as conn:
        pool = conn.execute(
            insert(IpPool).values(
                router_id=1,
                name="pppoe",
                family=4,
                ranges="100.64.0.2-100.64.0.61",
                total=60,
                expanded=True,
                status="active",
                comment="PPPoE subscribers",
                first_seen=T0,
                last_seen=T0,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(IpPool).values(
                router_id=1,
                name="[bold red]static",
                family=4,
                ranges="10.10.0.0/30",
                total=4,
                expanded=True,
                status="stale",
                first_seen=T0,
                last_seen=T0,
            )
        )
        conn.execute(
            insert(PoolAddress),
            [
                {
                    "pool_id": pool,
                    "sort_key": f"{0x64400002 + n:08x}",
                    "address": f"100.64.0.{n + 2}",
                    "status": "used" if n % 3 == 0 else "free",
                    "owner": f"user{n}" if n % 3 == 0 else None,
                    "info": "pppoe-out" if n % 3 == 0 else None,
                }
                for n in range(60)
            ],
        )
        store_counts(conn, [pool, pool + 1])
        jobs = [
            (1, "succeeded", 1, None, 0, 62, 2, 65_800, None),
            (
                3,
                "failed",
                1,
                None,
                60,
                61,
                0,
                0,
                "reading pools failed: login to 10.9.0.9:8729 as 'api' failed: "
                "invalid user name or password (6)",
            ),
            (2, "partial", 1, None, 120, 130, 2, 65_577, "pool p2p-v6: bad address '2001:db8::zz'"),
            (1, "running", 2, 1, 200, None, 1, 30_000, None),  # heartbeat far in the past: stalled
            (3, "queued", 2, 2, 300, None, 0, 0, None),
        ]
        for router_id, status, attempt, retry_of, start, end, pools_done, addresses_done, error in jobs:
            conn.execute(
                insert(ImportJob).values(
                    router_id=router_id,
                    tenant_id=2 if router_id == 3 else 1,
                    requested_by="ops",
                    source="sync" if router_id == 2 else "queue",  # edge-v6 was run from a terminal
                    status=status,
                    attempt=attempt,
                    retry_of_id=retry_of,
                    dry_run=False,
                    queued_at=at(start),
                    started_at=at(start + 1) if status != "queued" else None,
                    finished_at=at(end) if end is not None else None,
                    heartbeat_at=at(start + 20) if status == "running" else None,
                    time_limit=600,
                    cancel_requested=False,
                    pools_done=pools_done,
                    pools_total=2,
                    addresses_done=addresses_done,
                    addresses_total=65_800 if router_id == 1 else 65_577,
                    error=error,
                )
            )
        events = [
            (1, 0, "info", "Job queued by ops", {}),
            (1, 1, "info", "Starting IP pools import job", {"router_id": 1, "tenant_id": 1, "user": "ops"}),
            (1, 1, "info", "Connecting to 10.9.0.8:8728", {}),
            (1, 1, "info", "Read 2 pools (65800 addresses)", {}),
            (1, 2, "info", "Pool pppoe: 65533 addresses, added", pool_data("pppoe", 65_533)),
            (
                1,
                2,
                "warning",
                "pool [bold red]static: 1 used entries are not addresses of the pool; ignored",
                {},
            ),
            (1, 2, "info", "Pool [bold red]static: 267 addresses, added", pool_data("[bold red]static", 267)),
            (
                1,
                2,
                "warning",
                "pool legacy: 3 used entries are not addresses of the pool; ignored. The router still hands"
                " out 192.0.2.7, 192.0.2.8 and 192.0.2.9 from a range that was removed from the pool:"
                " check the PPPoE profile's remote-address on the concentrator",
                {},
            ),
            (1, 2, "info", "IP pools import completed successfully", {"imported": 2, "failed": 0}),
            (2, 61, "error", "Reading IP pools failed", {"error": "login to 10.9.0.9:8729 as 'api' failed"}),
            (2, 61, "error", "IP pools import job failed", {"error": "invalid user name or password (6)"}),
            (4, 200, "info", "Job queued by ops (attempt 2, retry of #1)", {}),
            (4, 201, "info", "Starting IP pools import job", {}),
            (4, 201, "info", "Connecting to 10.9.0.8:8728", {}),
            (4, 202, "info", "Read 2 pools (65800 addresses)", {}),
            (
                4,
                215,
                "info",
                "Pool [bold red]static: 267 addresses, added",
                pool_data("[bold red]static", 267),
            ),
            (
                3,
                130,
                "error",
                "Pool p2p-v6: failed: bad address '2001:db8::zz'",
                {"pool": "p2p-v6", "outcome": "failed", "error": "bad address '2001:db8::zz'"},
            ),
            (5, 300, "info", "Job queued by ops (attempt 2, retry of #2)", {}),
        ]
        conn.execute(
            insert(JobEvent),
            [
                {
                    "job_id": job,
                    "created_at": at(second),
                    "level": level,
                    "kind": event_kind(data),
                    "message": message,
                    "data_json": json.dumps(data) if data else None,
                }
                for job, second, level, message, data in events
            ],
        )
