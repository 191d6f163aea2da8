"""TUI fixtures: a seeded database, simulated routers, a real consumer, and a pilot helper that waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot

from poolimport.core.config import Settings, load_settings
from poolimport.core.db import session_scope
from poolimport.core.models import Operator
from tests.conftest import Consumer


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], Any], timeout: float = 30.0, what: str = ""
) -> Any:
    """Let the app run until `condition()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pilot.app.is_running:
            raise AssertionError(f"the app ended while waiting for {what or condition}")
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


def notices(app: App[Any]) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def said(pilot: Pilot[Any], text: str) -> None:
    """Wait for a notice: `App.notify` posts a message, so the notice lands after the code that said it."""
    await wait_until(pilot, lambda: text in notices(pilot.app), what=f"the notice {text!r}")


@pytest.fixture
def consumer(engine: Any, start_consumer: Callable[..., Consumer]) -> Consumer:
    """A real consumer with two workers, running for the whole test."""
    return start_consumer(workers=2)


@pytest.fixture
def tui_settings(engine: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test account acting as `ops`, an administrator: the name the snapshots show."""
    with session_scope(engine) as session:
        session.add(Operator(name="ops", tenant_id=None, role="admin"))
    monkeypatch.setenv("POOLIMPORT_OPERATOR", "ops")
    return load_settings()
