"""A pool larger than a page of the addresses screen, and jobs of every status, for the search and sort
tests of core, the CLI and the TUI."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Address

from sqlalchemy import Engine, insert, select

from poolimport.core.imports.pools.writer import store_counts
from poolimport.core.models import ImportJob, IpPool, PoolAddress, Router, utcnow
from poolimport.core.statuses import AddressStatus, JobStatus

BASE = int(IPv4Address("10.20.0.0"))
# Owners the searches look for, far past the first page (500 rows) in address order.
NEEDLE = 60_001  # owner "Needle-Owner", info "pppoe-out-needle"
PERCENT = 60_002  # owner "100%_off": `%` and `_` must match only themselves
LOOKALIKE = 60_003  # owner "100xyoff": what "100%_off" would match if they were wildcards


def owner_of(n: int) -> str | None:
    if n == NEEDLE:
        return "Needle-Owner"
    if n == PERCENT:
        return "100%_off"
    if n == LOOKALIKE:
        return "100xyoff"
    return f"user{n}" if n % 7 == 0 else None


def seed_pool(engine: Engine, router_id: int, size: int = 65_536, name: str = "big") -> int:
    """A pool of `size` addresses from 10.20.0.0: every 7th used by `user<n>`, every 11th free one stale,
    and the owners above; its id."""
    now = utcnow()
    with engine.begin() as conn:
        pool_id = conn.execute(
            insert(IpPool).values(
                router_id=router_id,
                name=name,
                family=4,
                ranges=f"{IPv4Address(BASE)}-{IPv4Address(BASE + size - 1)}",
                total=size,
                expanded=True,
                status="active",
                first_seen=now,
                last_seen=now,
            )
        ).inserted_primary_key[0]
        rows = []
        for n in range(size):
            owner = owner_of(n)
            status = (
                AddressStatus.USED if owner else AddressStatus.STALE if n % 11 == 0 else AddressStatus.FREE
            )
            rows.append(
                {
                    "pool_id": pool_id,
                    "sort_key": f"{BASE + n:08x}",
                    "address": str(IPv4Address(BASE + n)),
                    "status": status,
                    "owner": owner,
                    "info": ("pppoe-out-needle" if n == NEEDLE else f"pppoe-{n}") if owner else None,
                }
            )
        conn.execute(insert(PoolAddress), rows)
        store_counts(conn, [pool_id])
    return int(pool_id)


# (router, status, error, seconds since the last heartbeat) in the order they are queued.
JOBS = (
    ("alpha", JobStatus.SUCCEEDED, None, None),
    ("alpha", JobStatus.FAILED, "login failed: invalid user name or password (6)", None),
    ("beta", JobStatus.FAILED, "timed out reading /ip/pool after 100%_done", None),
    ("beta", JobStatus.RUNNING, None, 3600.0),  # a worker gone long ago: stalled
    ("gamma", JobStatus.RUNNING, None, 0.0),
    ("delta", JobStatus.QUEUED, None, None),  # one live job per router: the database holds to it
    ("alpha", JobStatus.CANCELLED, None, None),
)


def seed_jobs(engine: Engine, filler: int = 0) -> dict[str, list[int]]:
    """JOBS, then `filler` newer succeeded jobs of `alpha` (JOBS then lie beyond the newest page); the ids of
    each router's jobs of JOBS."""
    now = utcnow()
    ids: dict[str, list[int]] = {}
    with engine.begin() as conn:
        routers = {
            name: (rid, tenant)
            for rid, name, tenant in conn.execute(select(Router.id, Router.name, Router.tenant_id))
        }

        def add(router: str, status: str, error: str | None, quiet: float | None) -> int:
            router_id, tenant_id = routers[router]
            live = status == JobStatus.RUNNING
            return int(
                conn.execute(
                    insert(ImportJob).values(
                        router_id=router_id,
                        tenant_id=tenant_id,
                        requested_by="ops",
                        status=status,
                        queued_at=now - timedelta(seconds=7200),
                        started_at=None if status == JobStatus.QUEUED else now - timedelta(seconds=7200),
                        finished_at=None if status in (JobStatus.QUEUED, JobStatus.RUNNING) else now,
                        heartbeat_at=now - timedelta(seconds=quiet) if live and quiet is not None else None,
                        time_limit=600,
                        error=error,
                    )
                ).inserted_primary_key[0]
            )

        for router, status, error, quiet in JOBS:
            ids.setdefault(router, []).append(add(router, status, error, quiet))
        if filler:
            router_id, tenant_id = routers["alpha"]
            conn.execute(
                insert(ImportJob),
                [
                    {
                        "router_id": router_id,
                        "tenant_id": tenant_id,
                        "requested_by": "ops",
                        "status": JobStatus.SUCCEEDED,
                        "queued_at": now,
                        "started_at": now,
                        "finished_at": now,
                        "time_limit": 600,
                    }
                    for _ in range(filler)
                ],
            )
    return ids
