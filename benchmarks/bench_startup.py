"""Start-up of the `poolimport` command, against a bare interpreter start (`python -c pass`, same Python).

python benchmarks/bench_startup.py                          # 21 rounds (about half a minute)
python benchmarks/bench_startup.py --runs 51                # steadier on a busy machine
python benchmarks/bench_startup.py --compare OTHER/bin/python   # also another installation, same rounds

Each round runs the baseline and every command once, back to back, in a fresh process each: load on a
shared machine drifts between seconds, and a round compares like with like. Reported: the median wall
time of each, the median of each round's ratio to the baseline, and the same ratio in CPU time (user +
system of the child), which a busy machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import bench_home  # noqa: E402

TARGET_RATIO = 6.0
COMMANDS = {
    "poolimport --help": ["--help"],
    "poolimport jobs --json": ["jobs", "--json"],
    "poolimport router list --json": ["router", "list", "--json"],
}
BASELINE = "python -c pass"
# Not commands: what the lists can't start without, for scale. SQLAlchemy's Core alone, no ORM, no
# dialect: the least any read through the design's data layer costs. Then the ORM and the SQLite dialect.
CORE_FLOOR = "python -c 'import sqlalchemy' (Core floor)"
FLOOR = "python -c 'import sqlalchemy.orm' (floor)"


def poolimport_program(python: str) -> list[str]:
    """The installed `poolimport` beside `python`, as an operator runs it; `-m` where there is none."""
    program = Path(python).parent / "poolimport"
    return [str(program)] if program.is_file() else [python, "-m", "poolimport.cli"]


def timed_run(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def commands(compare: str | None) -> dict[str, list[str]]:
    argvs = {BASELINE: [sys.executable, "-c", "pass"]}
    argvs[CORE_FLOOR] = [sys.executable, "-c", "import sqlalchemy"]
    argvs[FLOOR] = [sys.executable, "-c", "import sqlalchemy.orm, sqlalchemy.dialects.sqlite"]
    pythons = {"": sys.executable, **({" (compared)": compare} if compare else {})}
    for suffix, python in pythons.items():
        program = poolimport_program(python)
        # An empty, initialised database: the lists read the schema version, the operator and no rows.
        subprocess.run(program + ["init"], check=True, stdout=subprocess.DEVNULL)
        argvs.update({name + suffix: program + args for name, args in COMMANDS.items()})
    return argvs


def measure(runs: int, compare: str | None) -> dict[str, dict[str, float]]:
    argvs = commands(compare)
    for argv in argvs.values():
        timed_run(argv)  # warm the page cache and the bytecode cache once, outside the count
    rounds = [{name: timed_run(argv) for name, argv in argvs.items()} for _ in range(runs)]
    return {
        name: {
            "median_s": statistics.median(r[name][0] for r in rounds),
            "ratio": statistics.median(r[name][0] / r[BASELINE][0] for r in rounds),
            "cpu_ratio": statistics.median(r[name][1] / r[BASELINE][1] for r in rounds),
        }
        for name in argvs
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=21, help="rounds (median)")
    parser.add_argument(
        "--compare", metavar="PYTHON", help="also time the poolimport installed for this Python (e.g. main's)"
    )
    args = parser.parse_args()
    with bench_home():
        os.environ.pop("POOLIMPORT_QUEUE_URL", None)
        results = measure(args.runs, args.compare)
    print(f"start-up, median of {args.runs} rounds; ratios: median of each round's time / {BASELINE}'s")
    print(f"  {'':42} {'wall':>9}  {'ratio':>6}  {'CPU ratio':>9}")
    for name, result in results.items():
        target = {BASELINE: "baseline", CORE_FLOOR: "for scale", FLOOR: "for scale"}.get(name, f"target <= {TARGET_RATIO:g}")
        print(
            f"  {name:42} {result['median_s'] * 1000:6.1f} ms  {result['ratio']:5.1f}x  "
            f"{result['cpu_ratio']:8.1f}x   ({target})"
        )


if __name__ == "__main__":
    main()
