from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from librouteros.exceptions import ConnectionClosed, FatalError, ProtocolError

from poolimport.sim import SimServer
from poolimport.sim.server import Faults
from tests.sim.conftest import connect, make_config

USED_ROWS = 11  # rows in /ip/pool/used of the base config
ROW_DELAY = 0.2


class PausingFaults(Faults):
    """Faults that hold a reply after each row until the test lets it go on, so the test acts between
    two rows however fast either side runs: the sim reads stall_after_rows once after every row it sends."""

    def __init__(self) -> None:
        self.next_row = threading.Semaphore(0)
        super().__init__(row_delay=0.001)  # any delay makes the sim flush each row before the next

    @property
    def stall_after_rows(self) -> int:
        assert self.next_row.acquire(timeout=30), "the test never let the reply go on"
        return 0

    @stall_after_rows.setter
    def stall_after_rows(self, _value: int) -> None:
        pass  # the dataclass's __init__ sets it; this fault never stalls


def test_row_delay_slows_each_row(sim: SimServer) -> None:
    api = connect(sim)
    sim.faults.row_delay = ROW_DELAY
    started = time.monotonic()
    rows = tuple(api.path("/ip/pool/used"))
    assert len(rows) == USED_ROWS
    assert time.monotonic() - started >= ROW_DELAY * USED_ROWS  # every row waited its delay
    sim.faults.row_delay = 0.0
    started = time.monotonic()
    tuple(api.path("/ip/pool/used"))
    # A generous bound, not a speed: rows that wait nothing are read well within what the delays added.
    assert time.monotonic() - started < ROW_DELAY * USED_ROWS
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
    sim.faults = faults = PausingFaults()
    faults.next_row.release()  # the reply is held after row 2 at the latest: row 1 is flushed then
    api.protocol.writeSentence("/ip/pool/used/print")
    assert api.protocol.readSentence()[0] == "!re"
    sim.faults.fatal_after_rows = 3
    faults.next_row.release(USED_ROWS)
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
