from __future__ import annotations

import time
from typing import Any

import pytest
from librouteros.exceptions import ConnectionClosed, FatalError, ProtocolError

from poolimport.sim import SimServer
from tests.sim.conftest import connect, make_config

USED_ROWS = 11  # rows in /ip/pool/used of the base config


def test_row_delay_slows_each_row(sim: SimServer) -> None:
    api = connect(sim)
    sim.faults.row_delay = 0.03
    started = time.monotonic()
    rows = tuple(api.path("/ip/pool/used"))
    assert len(rows) == USED_ROWS
    assert time.monotonic() - started >= 0.03 * USED_ROWS
    sim.faults.row_delay = 0.0
    started = time.monotonic()
    tuple(api.path("/ip/pool/used"))
    assert time.monotonic() - started < 0.03 * USED_ROWS
    api.close()


def test_stall_after_rows_times_out_client(sim: SimServer) -> None:
    api = connect(sim, timeout=0.3)
    sim.faults.stall_after_rows = 4
    api.protocol.writeSentence("/ip/pool/used/print")
    for _ in range(4):
        assert api.protocol.readSentence()[0] == "!re"
    with pytest.raises(TimeoutError):
        api.protocol.readSentence()
    api.close()


def test_stall_with_high_level_api(sim: SimServer) -> None:
    api = connect(sim, timeout=0.3)
    sim.faults.stall_after_rows = 2
    with pytest.raises(TimeoutError):
        tuple(api.path("/ip/pool/used"))
    api.close()
    # Short replies are unaffected; other connections too once the fault is cleared.
    sim.faults.stall_after_rows = 0
    other = connect(sim)
    assert len(tuple(other.path("/ip/pool/used"))) == USED_ROWS
    other.close()


def test_drop_after_rows_closes_connection(sim: SimServer) -> None:
    api = connect(sim)
    sim.faults.drop_after_rows = 3
    api.protocol.writeSentence("/ip/pool/used/print")
    for _ in range(3):
        assert api.protocol.readSentence()[0] == "!re"
    with pytest.raises(ConnectionClosed):
        api.protocol.readSentence()
    api.close()


def test_fatal_after_rows(sim: SimServer) -> None:
    api = connect(sim)
    sim.faults.fatal_after_rows = 5
    with pytest.raises(FatalError, match="after 5 rows"):
        tuple(api.path("/ip/pool/used"))


def test_fault_only_fires_when_reply_has_enough_rows(sim: SimServer) -> None:
    api = connect(sim)
    sim.faults.fatal_after_rows = 3
    assert len(tuple(api.path("/ip/pool"))) == 2
    with pytest.raises(FatalError):
        tuple(api.path("/ip/pool/used"))


def test_fault_change_applies_to_next_row(sim: SimServer) -> None:
    api = connect(sim)
    # A small delay makes the sim flush row by row, so the client sees rows while the reply runs.
    sim.faults.row_delay = 0.02
    api.protocol.writeSentence("/ip/pool/used/print")
    assert api.protocol.readSentence()[0] == "!re"
    sim.faults.fatal_after_rows = 3
    assert api.protocol.readSentence()[0] == "!re"
    assert api.protocol.readSentence()[0] == "!re"
    with pytest.raises(FatalError, match="after 3 rows"):
        api.protocol.readSentence()


def test_faults_from_config(sim_factory: Any) -> None:
    sim = sim_factory(make_config(faults={"fatal_after_rows": 1}))
    assert sim.faults.fatal_after_rows == 1
    api = connect(sim)
    with pytest.raises(FatalError):
        tuple(api.path("/ip/pool"))


def test_not_routeros(sim: SimServer) -> None:
    sim.faults.not_routeros = True
    with pytest.raises((ConnectionClosed, ProtocolError)):
        connect(sim)
