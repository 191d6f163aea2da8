"""Import speed, end to end from the simulator, against plain sqlite3 executemany into the same table.

python benchmarks/bench_import.py            # all measurements (about half a minute)
python benchmarks/bench_import.py --quick    # skip the 1,048,576-address runs
"""

from __future__ import annotations

import argparse
import ipaddress
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import bench_home, setup_router, sim_config, sim_process  # noqa: E402

SLASH16 = "100.64.0.2-100.64.255.254"  # 65,533 addresses: a /16 less network, gateway and broadcast
USED = [
    {"pool": "pppoe", "address": f"100.64.{n // 250}.{n % 250 + 2}", "owner": f"user{n}", "info": "pppoe"}
    for n in range(2000)
]


def timed(func, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = func(*args, **kwargs)
    return time.perf_counter() - started, value


def baseline_insert(db_file: Path, rows: list[tuple]) -> float:  # type: ignore[type-arg]
    """The same rows into the same (empty, migrated) table with nothing but the sqlite3 module."""
    conn = sqlite3.connect(db_file)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    conn.executemany(
        "INSERT INTO pool_addresses (pool_id, sort_key, address, status, owner, info)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def stored_rows(db_file: Path) -> list[tuple]:  # type: ignore[type-arg]
    conn = sqlite3.connect(db_file)
    rows = conn.execute(
        "SELECT pool_id, sort_key, address, status, owner, info FROM pool_addresses"
    ).fetchall()
    conn.close()
    return rows


def measure_65k_once() -> dict[str, float]:
    from poolimport.core.db import dispose_engines
    from poolimport.core.imports.kinds import run_import

    config = sim_config([{"name": "pppoe", "ranges": SLASH16}], USED)
    with sim_process(config) as port, bench_home() as home:
        engine, settings, router_id = setup_router(port)
        first_s, first = timed(run_import, engine, settings, router_id)
        assert first.status == "succeeded" and first.addresses["added"] == 65_533, first.to_dict()
        again_s, again = timed(run_import, engine, settings, router_id)
        assert again.addresses == {"added": 0, "updated": 0, "stale": 0, "total": 65_533}, again.to_dict()
        rows = stored_rows(home / "poolimport.db")
        dispose_engines()
    with sim_process(config) as port, bench_home() as home:
        setup_router(port)
        dispose_engines()
        baseline_s = baseline_insert(home / "poolimport.db", rows)
    return {"first_s": first_s, "again_s": again_s, "baseline_s": baseline_s}


def measure_65k(runs: int) -> dict[str, float]:
    """Medians over `runs` rounds, each timing poolimport and the baseline back to back: disk speed on
    these machines drifts between seconds, and a round compares like with like."""
    rounds = [measure_65k_once() for _ in range(runs)]
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    medians["ratio"] = statistics.median(r["baseline_s"] / r["first_s"] for r in rounds)
    return medians


def measure_million() -> tuple[float, float]:
    """Run in a child process so its peak RSS is the import's alone."""
    child = subprocess.run(
        [sys.executable, __file__, "--million-child"], capture_output=True, text=True, check=True
    )
    seconds, rss_mb = child.stdout.split()
    return float(seconds), float(rss_mb)


def million_child() -> None:
    from poolimport.core.imports.kinds import run_import

    with sim_process(sim_config([{"name": "cgnat", "ranges": "10.0.0.0/12"}])) as port, bench_home():
        engine, settings, router_id = setup_router(port)
        seconds, result = timed(run_import, engine, settings, router_id)
        assert result.addresses["added"] == 1_048_576, result.to_dict()
    print(f"{seconds:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")


CGNAT = "10.0.0.0/12"  # 1,048,576 addresses: the largest pool expanded by default
ONE_PERCENT = 1_048_576 // 100


def leases(step: int) -> list[dict[str, str]]:
    """1% of the /12 used: every `step`-th address (100: spread over the whole pool, the most table
    pages touched; 1: one block at its start)."""
    return [
        {
            "pool": "cgnat",
            "address": str(ipaddress.IPv4Address(0x0A000000 + n * step)),
            "owner": f"u{n}",
            "info": "x",
        }
        for n in range(ONE_PERCENT)
    ]


def measure_million_changed_once(used: list[dict[str, str]]) -> dict[str, float]:
    """A first import of the /12, then a re-import after 1% of its addresses became used: the re-import
    is compared with the first import of the same round (same process, same disk, same minute)."""
    from sqlalchemy import text

    from poolimport.core.db import dispose_engines
    from poolimport.core.imports.kinds import run_import

    with bench_home():
        with sim_process(sim_config([{"name": "cgnat", "ranges": CGNAT}])) as port:
            engine, settings, router_id = setup_router(port)
            first_s, first = timed(run_import, engine, settings, router_id)
            assert first.addresses["added"] == 1_048_576, first.to_dict()
        with sim_process(sim_config([{"name": "cgnat", "ranges": CGNAT}], used)) as port:
            with engine.begin() as conn:  # the same router, now answering with its leases
                conn.execute(text("UPDATE routers SET port = :port"), {"port": port})
            again_s, again = timed(run_import, engine, settings, router_id)
            changed = {"added": 0, "updated": len(used), "stale": 0, "total": 1_048_576}
            assert again.addresses == changed, again.to_dict()
        dispose_engines()
    return {"first_s": first_s, "again_s": again_s, "ratio": again_s / first_s}


def measure_million_changed(runs: int, step: int) -> dict[str, float]:
    used = leases(step)
    rounds = [measure_million_changed_once(used) for _ in range(runs)]
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=5, help="rounds of the /16 measurement (median)")
    parser.add_argument("--changed-runs", type=int, default=3, help="rounds of the 1%% changed /12 (median)")
    parser.add_argument("--million-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.million_child:
        million_child()
        return
    m = measure_65k(args.runs)
    ours = 65_533 / m["first_s"]
    raw = 65_533 / m["baseline_s"]
    print(f"import of one /16 pool (65,533 addresses, 2,000 used) from the simulator; median of {args.runs}")
    print(f"  poolimport, end to end   {m['first_s']:7.3f} s  {ours:10,.0f} addresses/s   (target < 1 s)")
    print(f"  plain sqlite3 executemany{m['baseline_s']:7.3f} s  {raw:10,.0f} addresses/s   (baseline)")
    print(f"  ratio poolimport/baseline {m['ratio']:6.2f}   (median of each round's ratio; target >= 0.5)")
    print(f"  re-import, unchanged     {m['again_s']:7.3f} s                              (target < 0.5 s)")
    if not args.quick:
        seconds, rss = measure_million()
        print("import of 10.0.0.0/12 (1,048,576 addresses)")
        print(
            f"  {seconds:.2f} s, {1_048_576 / seconds:,.0f} addresses/s, peak RSS {rss:.0f} MB"
            "  (target < 200 MB)"
        )
        for step, how in ((100, "spread over the pool"), (1, "one block")):
            c = measure_million_changed(args.changed_runs, step)
            print(
                f"re-import of 10.0.0.0/12 after 1% of it became used, {how}; median of {args.changed_runs}"
            )
            print(f"  first import             {c['first_s']:7.3f} s   (baseline)")
            print(f"  re-import, 1% changed    {c['again_s']:7.3f} s")
            ratio = f"{c['ratio']:6.3f}"
            print(f"  ratio re-import/first     {ratio}   (median of the rounds' ratios; target < 0.1)")


if __name__ == "__main__":
    main()
