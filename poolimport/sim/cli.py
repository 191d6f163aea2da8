"""`sim` command line: serve one simulated router until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from poolimport.sim.config import load_config
from poolimport.sim.server import SimServer


def build_parser(prog: str = "sim") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Serve a simulated MikroTik RouterOS API.")
    parser.add_argument("--config", required=True, type=Path, help="router config (.toml or .json)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8728, help="TCP port, 0 picks a free one (default 8728)")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate: serve API-SSL")
    parser.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    return parser


def run(argv: list[str] | None = None, *, stop: threading.Event | None = None) -> int:
    """Serve until SIGINT/SIGTERM (or until `stop` is set, for callers off the main thread)."""
    args = build_parser().parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        return _fail("--tls-cert and --tls-key must be given together")
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be 0..65535, got {args.port}")
    try:
        sim = SimServer(
            load_config(args.config),
            host=args.host,
            port=args.port,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
        )
    except ValueError as exc:
        return _fail(str(exc))

    stop = stop if stop is not None else threading.Event()
    previous = _install_signal_handlers(stop)
    try:
        return _serve(sim, args, stop)
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None means "installed outside Python": nothing we can restore
                signal.signal(sig, handler)


def _serve(sim: SimServer, args: argparse.Namespace, stop: threading.Event) -> int:
    try:
        sim.start()
    except (OSError, ssl.SSLError) as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc}")
    try:
        print(f"sim: listening on {sim.host}:{sim.port} ({sim.identity})", file=sys.stderr, flush=True)
        # Written last, so a parent that sees the file also has the stderr line.
        if args.port_file is not None:
            _write_atomically(args.port_file, f"{sim.port}\n")
        # A timed wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    except OSError as exc:
        return _fail(f"cannot write port file {args.port_file}: {exc}")
    finally:
        sim.stop()
    return 0


def _fail(message: str) -> int:
    # One line, always: parents grep for it and tracebacks are not wanted.
    print("error: " + " ".join(message.split()), file=sys.stderr)
    return 2


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """Route SIGINT/SIGTERM to `stop`; returns the old handlers so run() can put them back."""
    # Signal handlers can only be set from the main thread; elsewhere the caller sets `stop`.
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous


def _write_atomically(path: Path, text: str) -> None:
    # A parent polling for the file must never read it half-written, hence temp file + rename.
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
