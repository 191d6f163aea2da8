"""Hostile text in every field the TUI shows: markup, escape sequences, 5,000 characters, non-ASCII and
names that look like numbers or booleans. Seeded the way sample_data.py seeds: routers through core (then
given their hostile names and user names, which core's rules may refuse today), the rest (what an import
would have written) straight into the tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.imports.pools.writer import store_counts
from poolimport.core.models import ImportJob, IpPool, JobEvent, PoolAddress
from poolimport.core.routers.fields import RouterFields
from poolimport.core.routers.records import add_tenant, save_router
from poolimport.core.text import one_line
from tests.conftest import ADMIN

UNBALANCED = "r[/x]"
STYLED = "[bold red]x"
ESCAPES = "t\x1b]0;pwned\x07i\x1b[2Jtle"
LONG = "long-" + "n" * 4995
NON_ASCII = "Zürich-ñ-路由器"
# "1" is also the first router's id: a lookup that tries names first would find the wrong router.
NUMBERS = ("007", "true", "1e3", "1")
HOSTILE = (UNBALANCED, STYLED, ESCAPES, LONG, NON_ASCII, *NUMBERS)

# Names core no longer accepts (control characters, over 100 characters) may still be stored from before
# that rule: seeded straight into the table, shown literally, and saving them untouched is refused.
REFUSED_ON_SAVE = {
    ESCAPES: "router name must not contain control characters",
    LONG: "router name is too long",
}

TENANTS = ("t[/x]", "[bold]tenant")
ROUTERS = HOSTILE  # router ids follow this order: UNBALANCED is #1
POOL_OWNER = UNBALANCED  # the router whose pools are hostile
POOLS = ("y[/oops]", *HOSTILE)
QUEUED_ROUTER = STYLED  # has a queued job: `i` on it is refused with its name in the notice
T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def shown(value: str) -> str:
    """What the operator must see for `value`: the same text, control characters replaced."""
    return one_line(value)


def seed(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        for tenant in TENANTS:
            add_tenant(session, ADMIN, tenant)
        for n, name in enumerate(ROUTERS):
            router = save_router(
                session,
                ADMIN,
                settings,
                TENANTS[n % 2],
                # port 1: nothing listens there, so `t` fails with the router's name in the message
                RouterFields(name=f"router-{n}", host="127.0.0.1", port=1, username=f"api{n}", timeout=2),
                "sample",
            )
            router.name, router.username = name, f"api{name}"
            router.last_status, router.last_error = "error", f"login as {name} failed: {ESCAPES}"
    with engine.begin() as conn:
        pool_ids = []
        for n, name in enumerate(POOLS):
            pool_ids.append(
                conn.execute(
                    insert(IpPool).values(
                        router_id=1,
                        name=name,
                        family=4,
                        ranges=f"10.{n}.0.1-10.{n}.0.3",
                        total=3,
                        expanded=True,
                        status="active",
                        comment=f"comment {name}",
                        first_seen=T0,
                        last_seen=T0,
                    )
                ).inserted_primary_key[0]
            )
        conn.execute(
            insert(PoolAddress),
            [
                {
                    "pool_id": pool_id,
                    "sort_key": f"{n:04x}{host:04x}",
                    "address": f"10.{n}.0.{host}",
                    "status": status,
                    "owner": None if status == "free" else f"owner {POOLS[n]}",
                    "info": None if status == "free" else f"info {ESCAPES}",
                }
                for n, pool_id in enumerate(pool_ids)
                for host, status in ((1, "used"), (2, "free"), (3, "stale"))
            ],
        )
        store_counts(conn, pool_ids)
        for router_id, name in enumerate(ROUTERS, start=1):
            queued = name == QUEUED_ROUTER
            job_id = conn.execute(
                insert(ImportJob).values(
                    router_id=router_id,
                    tenant_id=1 if router_id % 2 else 2,
                    requested_by="ops",
                    status="queued" if queued else "failed",
                    attempt=1,
                    dry_run=False,
                    queued_at=T0,
                    started_at=None if queued else T0,
                    finished_at=None if queued else T0,
                    time_limit=600,
                    cancel_requested=False,
                    error=None if queued else f"reading pools failed: {name} {ESCAPES}",
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(JobEvent),
                [
                    {
                        "job_id": job_id,
                        "created_at": T0,
                        "level": "info",
                        "message": f"Pool {name}: added",
                        "data_json": None,
                    },
                    {
                        "job_id": job_id,
                        "created_at": T0,
                        "level": "error",
                        "message": "IP pools import job failed",
                        "data_json": json.dumps({"error": f"{name} {ESCAPES}"}),
                    },
                ],
            )
