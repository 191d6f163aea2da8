"""The /16 import of bench_import on PostgreSQL, against the same import on SQLite in the same round.

python benchmarks/bench_postgres.py              # 5 rounds (about a minute)
python benchmarks/bench_postgres.py --profile    # and a profile of one more PostgreSQL import
python benchmarks/bench_postgres.py --breakdown  # and what the COPY of the /16's rows costs the server:
                                                 # as migrated, with a foreign key in place of the check
                                                 # per statement, with neither, and without the unique index

Each round imports the router once into a fresh SQLite home and once into a fresh PostgreSQL schema (in
the database of POOLIMPORT_TEST_POSTGRES_URL, dropped afterwards), in alternating order. Reported: the
median of each, and the median of each round's ratio PostgreSQL / SQLite (target <= 1.3).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_import import SLASH16, USED  # noqa: E402
from benchmarks.common import bench_home, setup_router, sim_config, sim_process  # noqa: E402

POSTGRES_URL = os.environ.get(
    "POOLIMPORT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_RATIO = 1.3


@contextmanager
def postgres_home() -> Iterator[None]:
    """A throw-away home whose database is a schema of its own on the PostgreSQL server."""
    from sqlalchemy import create_engine, text

    from poolimport.core.db import dispose_engines

    server = create_engine(POSTGRES_URL)
    name = f"bench_pg_{uuid.uuid4().hex[:8]}"
    with server.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        with bench_home():
            os.environ["POOLIMPORT_DATABASE_URL"] = f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
            yield
    finally:
        os.environ.pop("POOLIMPORT_DATABASE_URL", None)
        dispose_engines()
        with server.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        server.dispose()


@contextmanager
def sqlite_home() -> Iterator[None]:
    from poolimport.core.db import dispose_engines

    with bench_home():
        yield
        dispose_engines()


def import_once(port: int, home: Callable[[], Any], profile: cProfile.Profile | None = None) -> float:
    from poolimport.core.imports.kinds import run_import

    with home():
        engine, settings, router_id = setup_router(port)
        if profile is not None:
            profile.enable()
        started = time.perf_counter()
        result = run_import(engine, settings, router_id)
        seconds = time.perf_counter() - started
        if profile is not None:
            profile.disable()
        assert result.status == "succeeded" and result.addresses["added"] == 65_533, result.to_dict()
    return seconds


ADDRESS_COLUMNS = "pool_id, sort_key, address, status, owner, info"
FOREIGN_KEY = "fk_pool_addresses_pool_id_ip_pools"
STATEMENT_CHECK = "pool_addresses_pools_exist"  # the trigger of migration 0009
# Each step changes the table as the step before left it.
BREAKDOWN_STEPS = {
    "as migrated (pools checked once per statement)": None,
    "with the foreign key instead (checked per row)": (
        f"ALTER TABLE pool_addresses DISABLE TRIGGER {STATEMENT_CHECK};"
        f" ALTER TABLE pool_addresses ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY (pool_id)"
        " REFERENCES ip_pools (id) ON DELETE CASCADE"
    ),
    "with neither": f"ALTER TABLE pool_addresses DROP CONSTRAINT {FOREIGN_KEY}",
    "and without the unique (pool_id, sort_key)": (
        "ALTER TABLE pool_addresses DROP CONSTRAINT uq_pool_addresses_pool_key"
    ),
}


def copy_seconds(raw: Any, rows: list[tuple[Any, ...]], batch_size: int) -> tuple[float, float]:
    """(COPY, commit) seconds of the rows into an emptied pool_addresses, a COPY per batch as the import
    does (the check per statement reads each statement's rows again)."""
    with raw.cursor() as cursor:
        cursor.execute("TRUNCATE pool_addresses")  # DELETE would leave each round more dead rows
    raw.commit()
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            with cursor.copy(f"COPY pool_addresses ({ADDRESS_COLUMNS}) FROM STDIN") as copy:
                for row in rows[start : start + batch_size]:
                    copy.write_row(row)
    copied = time.perf_counter()
    raw.commit()
    return copied - started, time.perf_counter() - copied


def copy_breakdown(port: int, runs: int) -> dict[str, tuple[float, float]]:
    """The /16's rows, COPYed again into a scratch schema's table as each step leaves it (medians)."""
    from sqlalchemy import text

    from poolimport.core.imports.kinds import run_import

    medians = {}
    with postgres_home():
        engine, settings, router_id = setup_router(port)
        run_import(engine, settings, router_id)
        with engine.connect() as conn:
            rows = [tuple(row) for row in conn.execute(text(f"SELECT {ADDRESS_COLUMNS} FROM pool_addresses"))]
        raw = engine.raw_connection()
        driver = raw.driver_connection
        for step, statement in BREAKDOWN_STEPS.items():
            if statement:
                driver.execute(statement)
                driver.commit()
            timings = [copy_seconds(driver, rows, settings.batch_size) for _ in range(runs)]
            medians[step] = (
                statistics.median(t[0] for t in timings),
                statistics.median(t[1] for t in timings),
            )
        raw.close()
    return medians


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="rounds (median)")
    parser.add_argument("--profile", action="store_true", help="profile one more PostgreSQL import")
    parser.add_argument("--breakdown", action="store_true", help="the COPY's cost, constraint by constraint")
    args = parser.parse_args()
    rounds = []
    with sim_process(sim_config([{"name": "pppoe", "ranges": SLASH16}], USED)) as port:
        for n in range(args.runs):
            homes = {"sqlite": sqlite_home, "postgresql": postgres_home}
            order = list(homes) if n % 2 == 0 else list(reversed(homes))
            rounds.append({name: import_once(port, homes[name]) for name in order})
        if args.profile:
            profile = cProfile.Profile()
            import_once(port, postgres_home, profile)
        breakdown = copy_breakdown(port, args.runs) if args.breakdown else {}
    sqlite_s = statistics.median(r["sqlite"] for r in rounds)
    postgres_s = statistics.median(r["postgresql"] for r in rounds)
    ratio = statistics.median(r["postgresql"] / r["sqlite"] for r in rounds)
    print(f"import of one /16 pool (65,533 addresses, 2,000 used) from the simulator; median of {args.runs}")
    print(f"  SQLite       {sqlite_s:7.3f} s  {65_533 / sqlite_s:10,.0f} addresses/s")
    print(f"  PostgreSQL   {postgres_s:7.3f} s  {65_533 / postgres_s:10,.0f} addresses/s")
    print(
        f"  ratio PostgreSQL / SQLite {ratio:5.2f}   (median of each round's ratio; target <= {TARGET_RATIO})"
    )
    if breakdown:
        print(f"COPY of the /16's 65,533 rows into PostgreSQL, median of {args.runs}:")
        for step, (copy_s, commit_s) in breakdown.items():
            print(f"  {step:48} COPY {copy_s * 1000:6.0f} ms, commit {commit_s * 1000:4.0f} ms")
    if args.profile:
        print("one more PostgreSQL import, profiled (cumulative time):")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
