"""Start and stop a `poolimport worker` process: for the demo and for tests that need a real consumer."""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import signal
import subprocess
import sys
import termios
from collections.abc import Callable
from typing import IO, Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM when its parent dies, even by a dropped SSH session (SIGHUP)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere the normal exit path still stops it


def _take_terminal() -> None:
    """In a new session: make the terminal on stdin the controlling one, as a login shell's child has it."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _child_setup(terminal: bool) -> Callable[[], None] | None:
    steps = [_die_with_parent] if sys.platform.startswith("linux") else []
    if terminal:
        steps.append(_take_terminal)
    if not steps:
        return None

    def setup() -> None:
        for step in steps:
            step()

    return setup


def worker_command(workers: int, huey_consumer: bool = False) -> list[str]:
    if huey_consumer:
        return [sys.executable, "-m", "huey.bin.huey_consumer", "poolimport.queue.huey", "-w", str(workers)]
    return [sys.executable, "-m", "poolimport.cli", "worker", "-w", str(workers)]


def spawn_worker(
    workers: int = 2,
    output: IO[Any] | int | None = subprocess.DEVNULL,
    *,
    terminal: int | None = None,
    detach: bool = False,
    huey_consumer: bool = False,
) -> subprocess.Popen[bytes]:
    """A consumer with this process's environment (POOLIMPORT_HOME and all).

    terminal: a pseudo-terminal's slave fd, to run it the way a shell in a terminal does (its own
    session, that terminal as controlling terminal and stdio). detach: its own session and no
    terminal, the way a supervisor runs it. huey_consumer: Huey's own command instead of `worker`.
    """
    stdio: dict[str, Any] = {"stdout": output, "stderr": subprocess.STDOUT}
    if terminal is not None:
        stdio = {"stdin": terminal, "stdout": terminal, "stderr": terminal}
    return subprocess.Popen(
        worker_command(workers, huey_consumer),
        **stdio,
        env=dict(os.environ),
        start_new_session=detach or terminal is not None,
        preexec_fn=_child_setup(terminal is not None),
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
