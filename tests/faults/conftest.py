"""Consumers whose output is kept (a file each), so a test can read what an operator would see."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from poolimport.queue.process import spawn_worker, stop_worker


@dataclass
class Consumer:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def start_consumer(tmp_path: Path) -> Iterator[Callable[..., Consumer]]:
    started: list[Consumer] = []

    def start(workers: int = 1, **options: Any) -> Consumer:
        log = tmp_path / f"consumer-{len(started) + 1}.log"
        with log.open("wb") as output:
            started.append(Consumer(spawn_worker(workers, output, **options), log))
        return started[-1]

    yield start
    for consumer in started:
        stop_worker(consumer.process)
