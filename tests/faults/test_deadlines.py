"""A router that trickles rows, each gap under its timeout, cannot hold a job past its time limit or past
an operator's cancel: the read itself stops, the job says which stop it was, stored data stays as it was."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from poolimport.core.config import Settings
from poolimport.core.events import EventKind
from poolimport.core.imports.kinds import run_import
from poolimport.core.models import IpPool, PoolAddress, Router
from poolimport.core.routers.api import (
    WAIT_SLICE,
    PatientTransport,
    RouterClient,
    RouterStopped,
    RouterTarget,
)
from poolimport.sim import SimServer
from poolimport.sim.config import generate_used
from tests.conftest import PASSWORD, Consumer, run_cli
from tests.helpers import assert_all_closed, enqueue, kinds, of_kind, show, wait_for, wait_status

pytestmark = pytest.mark.xdist_group("consumers")

TRICKLE_ROWS = 200
ROW_GAP = 1.0  # the whole trickled read would take over 200 s
ROUTER_TIMEOUT = 10.0  # every gap is well under it: the router never looks dead
POOL = {"name": "pppoe", "ranges": "100.64.0.1-100.64.0.254", "next-pool": "none"}
TERMINAL = ("succeeded", "partial", "failed", "cancelled")


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


def stored(engine: Engine) -> dict[str, Any]:
    """Pools and addresses counted by status, and what the router row says of its last contact."""
    with engine.connect() as conn:
        pools = dict(conn.execute(select(IpPool.status, func.count()).group_by(IpPool.status)).all())
        addresses = dict(
            conn.execute(select(PoolAddress.status, func.count()).group_by(PoolAddress.status)).all()
        )
        router = conn.execute(select(Router.last_status, Router.last_error, Router.last_checked_at)).one()
    return {"pools": pools, "addresses": addresses, "router": tuple(router)}


@pytest.fixture
def imported_trickler(
    engine: Engine, settings: Settings, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> tuple[SimServer, dict[str, Any]]:
    """A router imported once at full speed, that now has more used addresses and sends one row a second."""
    sim = sim_factory(trickle_config())
    sim.set_menu("/ip/pool/used", used_rows(20))
    router_id = add_router(sim, name="slow", timeout=ROUTER_TIMEOUT)
    assert run_import(engine, settings, router_id).status == "succeeded"
    before = stored(engine)
    assert before["pools"] == {"active": 1}
    assert before["addresses"] == {"used": 20, "free": 234}
    sim.set_menu("/ip/pool/used", used_rows(TRICKLE_ROWS))
    sim.faults.row_delay = ROW_GAP
    return sim, before


# -- through a real consumer -----------------------------------------------------------------------------


def test_time_limit_ends_a_trickling_read_and_keeps_stored_data(
    engine: Engine,
    imported_trickler: tuple[SimServer, dict[str, Any]],
    start_consumer: Callable[..., Consumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sim, before = imported_trickler
    monkeypatch.setenv("POOLIMPORT_JOB_TIME_LIMIT", "3")
    start_consumer(workers=1)
    job_id = enqueue("slow")
    # The trickle alone takes over 200 s; a read that honours the limit ends long before this wait does.
    assert wait_status(job_id, TERMINAL, timeout=40) == "failed"
    job = show(job_id)
    assert job["error"] == "timed out after 3 s (job time limit)"
    stopped = of_kind(engine, job_id, EventKind.ROUTER_READ_STOPPED)
    assert [json.loads(e.data_json)["reason"] for e in stopped] == ["timed out after 3 s (job time limit)"]
    assert EventKind.ROUTER_READ_FAILED not in kinds(engine, job_id)  # not blamed on the router
    assert stored(engine) == before


def test_cancel_during_a_trickling_read_is_prompt_and_keeps_stored_data(
    engine: Engine,
    imported_trickler: tuple[SimServer, dict[str, Any]],
    start_consumer: Callable[..., Consumer],
) -> None:
    _sim, before = imported_trickler
    start_consumer(workers=1)
    job_id = enqueue("slow")
    wait_for(lambda: EventKind.ROUTER_CONNECTING in kinds(engine, job_id), 30, "the read")
    out = run_cli("cancel", str(job_id))
    assert out.returncode == 0 and "cancelling" in out.stdout, out.stderr
    # Well under the router's timeout and the 200 s the read would otherwise take.
    assert wait_status(job_id, TERMINAL, timeout=ROUTER_TIMEOUT) == "cancelled"
    assert show(job_id)["error"] == "cancelled by operator"
    stopped = of_kind(engine, job_id, EventKind.ROUTER_READ_STOPPED)
    assert [json.loads(e.data_json)["reason"] for e in stopped] == ["cancelled by operator"]
    assert kinds(engine, job_id)[-1] == EventKind.JOB_CANCELLED
    assert stored(engine) == before


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
