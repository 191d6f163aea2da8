from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import librouteros
import pytest

from poolimport.sim import SimServer
from poolimport.sim.server import HANDSHAKE_TIMEOUT
from tests.helpers import sim_threads, wait_for
from tests.sim.conftest import make_config


def _client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_api_ssl(tls_sim: SimServer) -> None:
    wrap = _client_context().wrap_socket
    api = librouteros.connect(tls_sim.host, "admin", "secret", port=tls_sim.port, timeout=5, ssl_wrapper=wrap)
    assert tuple(api.path("/system/identity")) == ({"name": "core-1"},)
    assert len(tuple(api.path("/ip/pool/used"))) == 11
    api.close()


def test_plain_client_against_tls_server_fails(tls_sim: SimServer) -> None:
    with pytest.raises((librouteros.exceptions.LibRouterosError, OSError)):
        librouteros.connect(tls_sim.host, "admin", "secret", port=tls_sim.port, timeout=2)


def test_tls_paths_from_config(sim_factory: Any, pki: dict[str, Path]) -> None:
    sim = sim_factory(make_config(tls_cert=str(pki["cert"]), tls_key=str(pki["key"])))
    api = librouteros.connect(
        sim.host, "admin", "secret", port=sim.port, timeout=5, ssl_wrapper=_client_context().wrap_socket
    )
    api.close()


def test_stop_ends_the_sessions_of_a_stalled_and_a_silent_tls_client(
    sim_factory: Any, pki: dict[str, Path]
) -> None:
    sim = sim_factory(make_config(faults={"stall_after_rows": 1}), tls_cert=pki["cert"], tls_key=pki["key"])
    api = librouteros.connect(
        sim.host, "admin", "secret", port=sim.port, timeout=5, ssl_wrapper=_client_context().wrap_socket
    )
    api.protocol.writeSentence("/ip/pool/used/print")
    assert api.protocol.readSentence()[0] == "!re"
    # Also hold a connection that never starts its TLS handshake.
    silent = socket.create_connection((sim.host, sim.port), timeout=5)
    wait_for(lambda: sim.connections_served == 2, 10, "both connections to be accepted")
    threads = sim_threads(sim)
    assert len(threads) == 3  # the accept loop and the two sessions
    # Neither session ends by itself while the stop waits: the stalled one never, the silent one only at
    # the handshake timeout. stop() must end them.
    sim.stop(timeout=HANDSHAKE_TIMEOUT / 2)
    assert [thread.name for thread in threads if thread.is_alive()] == []
    silent.close()
    api.close()
