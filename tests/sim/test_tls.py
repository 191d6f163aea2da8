from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import librouteros
import pytest

from tests.pki import issue_certificates
from tests.sim.conftest import make_config


@pytest.fixture(scope="module")
def cert_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    paths = issue_certificates(tmp_path_factory.mktemp("tls"), ["sim.test"])
    return paths["cert"], paths["key"]


def _client_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_api_ssl(sim_factory: Any, cert_pair: tuple[Path, Path]) -> None:
    cert, key = cert_pair
    sim = sim_factory(make_config(), tls_cert=cert, tls_key=key)
    api = librouteros.connect(
        sim.host, "admin", "secret", port=sim.port, timeout=5, ssl_wrapper=_client_context().wrap_socket
    )
    assert tuple(api.path("/system/identity")) == ({"name": "core-1"},)
    assert len(tuple(api.path("/ip/pool/used"))) == 11
    api.close()


def test_plain_client_against_tls_server_fails(sim_factory: Any, cert_pair: tuple[Path, Path]) -> None:
    cert, key = cert_pair
    sim = sim_factory(make_config(), tls_cert=cert, tls_key=key)
    with pytest.raises((librouteros.exceptions.LibRouterosError, OSError)):
        librouteros.connect(sim.host, "admin", "secret", port=sim.port, timeout=2)


def test_tls_paths_from_config(sim_factory: Any, cert_pair: tuple[Path, Path]) -> None:
    cert, key = cert_pair
    sim = sim_factory(make_config(tls_cert=str(cert), tls_key=str(key)))
    api = librouteros.connect(
        sim.host, "admin", "secret", port=sim.port, timeout=5, ssl_wrapper=_client_context().wrap_socket
    )
    api.close()


def test_stop_is_quick_with_stalled_tls_client(sim_factory: Any, cert_pair: tuple[Path, Path]) -> None:
    cert, key = cert_pair
    sim = sim_factory(make_config(faults={"stall_after_rows": 1}), tls_cert=cert, tls_key=key)
    api = librouteros.connect(
        sim.host, "admin", "secret", port=sim.port, timeout=5, ssl_wrapper=_client_context().wrap_socket
    )
    api.protocol.writeSentence("/ip/pool/used/print")
    assert api.protocol.readSentence()[0] == "!re"
    # Also hold a connection that never starts its TLS handshake.
    silent = socket.create_connection((sim.host, sim.port), timeout=5)
    deadline = time.monotonic() + 5
    while sim.connections_served < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.0
    assert not [t for t in threading.enumerate() if t.name.startswith("sim-core-1")]
    silent.close()
    api.close()
