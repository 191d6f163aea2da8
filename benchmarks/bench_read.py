"""Reading a busy router: an unchanged re-import of a router with 65,000 used addresses, against a plain
buffered read of the same replies from the same simulated router.

python benchmarks/bench_read.py             # median of 9 rounds (about 20 seconds)
python benchmarks/bench_read.py --profile   # and where one re-import spends its time (cProfile)

The baseline is the least a client can do for the same rows: one socket, 64 KiB reads, the same login and
the same four print sentences, every reply word decoded to text. A re-import of an unchanged router writes
almost nothing, so the ratio is the cost of reading and comparing over the cost of the bytes themselves.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SIM_PASSWORD, bench_home, setup_router, sim_config, sim_process  # noqa: E402
from poolimport.sim.wire import encode_sentence  # noqa: E402

SLASH16 = "100.64.0.2-100.64.255.254"  # 65,533 addresses
USED = 65_000
# What an import asks the router, in its order.
PRINTS = ("/ip/pool/print", "/ip/pool/used/print", "/ipv6/pool/print", "/ipv6/pool/used/print")
CHUNK = 64 * 1024


def busy_router() -> dict:  # type: ignore[type-arg]
    config = sim_config([{"name": "pppoe", "ranges": SLASH16}])
    config["generate_used"] = [{"pool": "pppoe", "start": "100.64.0.2", "count": USED}]
    return config


class PlainReader:
    """A minimal buffered RouterOS API client: no checks, no stop requests, no row dicts."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.pos = 0

    def _need(self, count: int) -> None:
        while len(self.buf) - self.pos < count:
            got = self.sock.recv(CHUNK)
            if not got:
                raise ConnectionError("closed")
            self.buf = self.buf[self.pos :] + got
            self.pos = 0

    def sentence(self) -> list[str]:
        words = []
        while True:
            self._need(1)
            length = self.buf[self.pos]
            if length >= 0x80:  # the replies here never hold a word of 16 KiB or more
                self._need(2)
                length = int.from_bytes(self.buf[self.pos : self.pos + 2]) & 0x3FFF
                self.pos += 2
            else:
                self.pos += 1
            if not length:
                return words
            self._need(length)
            words.append(self.buf[self.pos : self.pos + length].decode())
            self.pos += length

    def command(self, *words: str) -> list[list[str]]:
        self.sock.sendall(encode_sentence(words))
        replies = []
        while (sentence := self.sentence())[0] != "!done":
            replies.append(sentence)
        return replies

    def close(self) -> None:
        self.sock.close()


def plain_read(port: int) -> int:
    """Log in and run the import's prints; returns the number of !re rows."""
    reader = PlainReader(port)
    try:
        reader.command("/login", "=name=admin", f"=password={SIM_PASSWORD}")
        return sum(len(reader.command(words)) for words in PRINTS)
    finally:
        reader.close()


def timed(func, *args):  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds of this process, value): the CPU time shows what a busy machine hid."""
    started, cpu = time.perf_counter(), time.process_time()
    value = func(*args)
    return time.perf_counter() - started, time.process_time() - cpu, value


def measure(runs: int, profile: bool) -> dict[str, float]:
    from poolimport.core.db import dispose_engines
    from poolimport.core.imports.run import run_import

    with sim_process(busy_router()) as port, bench_home():
        engine, settings, router_id = setup_router(port)
        first_s, _, first = timed(run_import, engine, settings, router_id)
        assert first.status == "succeeded" and first.addresses["added"] == 65_533, first.to_dict()
        rounds = []
        for _ in range(runs):
            again_s, again_cpu, again = timed(run_import, engine, settings, router_id)
            assert again.addresses == {"added": 0, "updated": 0, "stale": 0, "total": 65_533}, again.to_dict()
            plain_s, plain_cpu, rows = timed(plain_read, port)
            assert rows == 1 + USED, rows
            rounds.append(
                {
                    "again_s": again_s,
                    "plain_s": plain_s,
                    "ratio": again_s / plain_s,
                    "again_cpu": again_cpu,
                    "plain_cpu": plain_cpu,
                }
            )
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(run_import, engine, settings, router_id)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        dispose_engines()
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    medians["first_s"] = first_s
    return medians


def main() -> None:
    parser = argparse.ArgumentParser()
    # Other work on a 2-core machine moves single rounds by a factor of two: more rounds than usual.
    parser.add_argument("--runs", type=int, default=9, help="rounds (median)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one more re-import")
    args = parser.parse_args()
    m = measure(args.runs, args.profile)
    print(f"a busy router: one /16 pool, {USED:,} used addresses, from the simulator; median of {args.runs}")
    print(f"  first import             {m['first_s']:7.3f} s")
    print(f"  re-import, unchanged     {m['again_s']:7.3f} s   (CPU {m['again_cpu']:.3f} s)")
    print(f"  plain buffered read      {m['plain_s']:7.3f} s   (CPU {m['plain_cpu']:.3f} s)   baseline")
    print(f"  ratio re-import/baseline {m['ratio']:7.2f}     (median of each round's ratio; target <= 1.5)")


if __name__ == "__main__":
    main()
