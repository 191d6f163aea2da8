"""A router that trickles rows, each gap under its timeout, cannot hold a reader that was asked to stop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from poolimport.core.routeros import WAIT_SLICE, PatientTransport, RouterClient, RouterStopped, RouterTarget
from poolimport.sim import SimServer
from poolimport.sim.config import generate_used
from tests.conftest import PASSWORD
from tests.integration.test_queue import wait_for
from tests.integration.test_routeros_client import assert_all_closed, pki, tls_sim

__all__ = ["pki", "tls_sim"]  # fixtures shared with the modules they come from

TRICKLE_ROWS = 200
ROW_GAP = 1.0  # the whole trickled read would take over 200 s
ROUTER_TIMEOUT = 10.0  # every gap is well under it: the router never looks dead
POOL = {"name": "pppoe", "ranges": "100.64.0.1-100.64.0.254", "next-pool": "none"}


def used_rows(count: int) -> list[dict[str, str]]:
    return generate_used({"pool": "pppoe", "start": "100.64.0.1", "count": count})[1]


def trickle_config() -> dict[str, Any]:
    return {
        "identity": "trickle",
        "users": [{"name": "admin", "password": PASSWORD}],
        "menus": {
            "/ip/pool": [POOL],
            "/ip/pool/used": used_rows(TRICKLE_ROWS),
            "/ipv6/pool": [],
            "/ipv6/pool/used": [],
        },
    }


# -- RouterClient ----------------------------------------------------------------------------------------


def trickle_target(port: int, **fields: Any) -> RouterTarget:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "admin",
        "password": PASSWORD,
        "timeout": ROUTER_TIMEOUT,
    }
    return RouterTarget(**{**values, **fields})


def stop_when(event: threading.Event, reason: str) -> Callable[[], str | None]:
    return lambda: reason if event.is_set() else None


def read_until_stopped(sim: SimServer, target: RouterTarget, reason: str) -> RouterStopped:
    """Starts a trickled read, asks it to stop once logged in, and returns what the read raised."""
    stop = threading.Event()
    sim.faults.row_delay = 0.3  # 60 s for the 200 rows
    # The stop is asked for from another thread, as the job's heartbeat does.
    flowing = threading.Thread(target=lambda: (wait_for(lambda: sim.logins, 10, "the login"), stop.set()))
    flowing.start()
    client = RouterClient(target, should_stop=stop_when(stop, reason))
    with pytest.raises(RouterStopped) as caught, client:
        client.print("/ip/pool/used")
    flowing.join()
    return caught.value


def test_a_stop_request_ends_the_read_with_its_reason(sim_factory: Callable[..., SimServer]) -> None:
    sim = sim_factory(trickle_config())
    started = time.monotonic()
    error = read_until_stopped(sim, trickle_target(sim.port), "cancelled by operator")
    assert time.monotonic() - started < ROUTER_TIMEOUT  # it did not wait for the router to go quiet
    assert (error.kind, str(error)) == ("stopped", "cancelled by operator")
    assert_all_closed(sim)


def test_a_stop_request_ends_a_tls_read(tls_sim: SimServer) -> None:
    tls_sim.set_menu("/ip/pool/used", used_rows(TRICKLE_ROWS))
    target = trickle_target(tls_sim.port, tls=True, tls_verify=False)
    error = read_until_stopped(tls_sim, target, "timed out after 3 s (job time limit)")
    assert (error.kind, str(error)) == ("stopped", "timed out after 3 s (job time limit)")
    assert_all_closed(tls_sim)


def test_a_stop_before_connecting_never_reaches_the_router(sim_factory: Callable[..., SimServer]) -> None:
    sim = sim_factory(trickle_config())
    with pytest.raises(RouterStopped, match="^cancelled by operator$"):
        RouterClient(trickle_target(sim.port), should_stop=lambda: "cancelled by operator").connect()
    assert sim.connections_served == 0


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_rows_slower_than_the_wait_slices_but_within_the_timeout_are_all_read(
    sim_factory: Callable[..., SimServer], request: pytest.FixtureRequest, tls: bool
) -> None:
    sim = request.getfixturevalue("tls_sim") if tls else sim_factory(trickle_config())
    sim.set_menu("/ip/pool/used", used_rows(6))
    sim.faults.row_delay = 0.4  # each gap is several wait slices long and under the 1 s timeout
    target = trickle_target(sim.port, timeout=1.0, tls=tls, tls_verify=False)
    with RouterClient(target, should_stop=lambda: None) as client:
        rows = client.print("/ip/pool/used")
    assert [row["address"] for row in rows] == [f"100.64.0.{n}" for n in range(1, 7)]


def test_a_stop_request_ends_a_word_that_trickles_byte_by_byte() -> None:
    ours, routers = socket.socketpair()
    stop = threading.Event()
    transport = PatientTransport(ours, ROUTER_TIMEOUT, stop_when(stop, "cancelled by operator"))

    def trickle() -> None:
        # Bytes come faster than one wait slice, so no wait ever times out; 40 s for the whole word.
        for sent in range(800):
            if sent == 3:
                stop.set()
            try:
                routers.sendall(b"x")
            except OSError:
                return  # our side closed: the read is over
            time.sleep(WAIT_SLICE / 5)

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        with pytest.raises(RouterStopped, match="^cancelled by operator$"):
            transport.read(800)
    finally:
        ours.close()
        sender.join()
        routers.close()
