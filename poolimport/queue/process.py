"""Start and stop a `poolimport worker` process: for the demo and for tests that need a real consumer."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from typing import IO, Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM when its parent dies, even by a dropped SSH session (SIGHUP)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere the normal exit path still stops it


def spawn_worker(
    workers: int = 2, output: IO[Any] | int | None = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """A consumer with this process's environment (POOLIMPORT_HOME and all)."""
    return subprocess.Popen(
        [sys.executable, "-m", "poolimport.cli", "worker", "-w", str(workers)],
        stdout=output,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
