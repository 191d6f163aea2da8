"""RouterClient over real sockets: librouteros against the RouterOS API simulator, no mocks.

Every failure must come out as one RouterError whose kind code can branch on and whose message an operator
can act on, and no connection may stay open on the simulator afterwards.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.models import Router
from poolimport.core.routers.api import UNDECODABLE, RouterClient, RouterError, RouterTarget, UnknownMenu
from poolimport.core.routers.records import probe, record_test
from poolimport.sim import SimServer
from tests.conftest import PASSWORD, router_config
from tests.helpers import assert_all_closed, open_sessions
from tests.pki import issue_certificates

TIMEOUT = 0.5


def target(port: int, **fields: Any) -> RouterTarget:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "admin",
        "password": PASSWORD,
        "timeout": 3.0,
    }
    values.update(fields)
    return RouterTarget(**values)


def failure(t: RouterTarget, path: str = "/ip/pool") -> RouterError:
    with pytest.raises(RouterError) as caught, RouterClient(t) as client:
        client.print(path)
    error = caught.value
    assert t.password not in str(error)
    assert "\n" not in str(error)
    return error


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- login and values -------------------------------------------------------------------------------------


def test_plain_login_reads_values_as_the_routers_text(sim_factory: Callable[..., SimServer]) -> None:
    config = router_config()
    config["menus"]["/ip/pool"] = [
        {"name": "100", "ranges": "10.0.0.1-10.0.0.2", "comment": "true"},
        {"name": "007", "ranges": "10.0.1.1", "comment": "0x1F"},
        {"name": "yes", "ranges": "10.0.2.1", "comment": "1e3"},
    ]
    sim = sim_factory(config)
    with RouterClient(target(sim.port)) as client:
        rows = client.print("/ip/pool")
    assert [row["name"] for row in rows] == ["100", "007", "yes"]
    assert all(isinstance(value, str) for row in rows for value in row.values())
    assert [row["comment"] for row in rows] == ["true", "0x1F", "1e3"]
    assert sim.logins == [("admin", True)]
    assert sim.connections_served == 1
    assert_all_closed(sim)


def test_legacy_challenge_login_when_the_router_answers_with_ret(
    sim_factory: Callable[..., SimServer],
) -> None:
    sim = sim_factory(router_config(login="legacy"))
    with RouterClient(target(sim.port)) as client:
        identity, version, rtt = client.identity()
        pools = client.print("/ip/pool")
    assert (identity, version) == ("test-router", "7.16.2 (stable)")
    assert rtt > 0
    assert [p["name"] for p in pools] == ["pppoe", "static"]
    # The plain attempt got a challenge (not a login); only the MD5 response logged in.
    assert sim.logins == [("admin", True)]
    assert_all_closed(sim)


@pytest.mark.parametrize("login", ["plain", "legacy"])
def test_bad_credentials_carry_the_routers_own_text(
    sim_factory: Callable[..., SimServer], login: str
) -> None:
    sim = sim_factory(router_config(login=login))
    error = failure(target(sim.port, password="wrong-password"))
    assert error.kind == "auth"
    assert "invalid user name or password (6)" in str(error)
    assert f"127.0.0.1:{sim.port}" in str(error) and "'admin'" in str(error)
    assert "wrong-password" not in str(error)
    assert sim.logins == [("admin", False)]
    assert_all_closed(sim)


def test_refused_logins_are_an_auth_error(sim: SimServer) -> None:
    sim.faults.refuse_logins = True
    assert failure(target(sim.port)).kind == "auth"
    assert_all_closed(sim)


def test_legacy_login_rejects_a_non_ascii_password_clearly(sim_factory: Callable[..., SimServer]) -> None:
    sim = sim_factory(router_config(login="legacy"))
    error = failure(target(sim.port, password="pässwörd"))
    assert error.kind == "auth"
    assert "ASCII" in str(error)
    assert_all_closed(sim)


# -- encodings -------------------------------------------------------------------------------------------


@pytest.fixture
def latin1_sim(sim_factory: Callable[..., SimServer]) -> SimServer:
    config = router_config(encoding="latin-1")
    config["menus"]["/ip/pool"][0]["name"] = "café"
    for row in config["menus"]["/ip/pool/used"]:
        row["pool"] = "café"
    config["menus"]["/ip/pool/used"][0]["owner"] = "josé"
    return sim_factory(config)


def test_router_encoding_decodes_its_text(latin1_sim: SimServer) -> None:
    with RouterClient(target(latin1_sim.port, encoding="latin-1")) as client:
        pools = client.print("/ip/pool")
        used = client.print("/ip/pool/used")
    assert pools[0]["name"] == "café"
    assert used[0]["owner"] == "josé"
    assert all(UNDECODABLE not in row for row in pools + used)


def test_undecodable_bytes_are_reported_per_field_not_dropped(latin1_sim: SimServer) -> None:
    with RouterClient(target(latin1_sim.port)) as client:  # utf-8, the default
        pools = client.print("/ip/pool")
        used = client.print("/ip/pool/used")
    assert pools[0]["name"] == "caf\ufffd"  # replaced, not silently shortened to "caf"
    assert pools[0][UNDECODABLE] == "name"
    assert UNDECODABLE not in pools[1]
    assert used[0]["owner"] == "jos\ufffd"
    assert used[0][UNDECODABLE].split(",") == ["pool", "owner"]
    assert used[1][UNDECODABLE] == "pool"


# -- TLS -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_api_ssl_verified_against_a_ca_file(tls_sim: SimServer, pki: dict[str, Path], host: str) -> None:
    with RouterClient(target(tls_sim.port, host=host, tls=True, ca_file=str(pki["ca"]))) as client:
        identity, version, _ = client.identity()
        pools = client.print("/ip/pool")
    assert identity == "test-router" and version.startswith("7.16.2")
    assert len(pools) == 2
    assert_all_closed(tls_sim)


def test_api_ssl_without_verification(tls_sim: SimServer) -> None:
    with RouterClient(target(tls_sim.port, tls=True, tls_verify=False)) as client:
        assert len(client.print("/ip/pool/used")) == 2
    assert_all_closed(tls_sim)


def test_api_ssl_untrusted_certificate(tls_sim: SimServer) -> None:
    error = failure(target(tls_sim.port, tls=True))  # verification on, CA not given: not trusted
    assert error.kind == "tls"
    assert f"TLS certificate of 127.0.0.1:{tls_sim.port} not trusted" in str(error)
    assert tls_sim.logins == []
    assert_all_closed(tls_sim)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_api_ssl_certificate_for_another_name_is_refused_before_login(
    sim_factory: Callable[..., SimServer], tmp_path: Path, host: str
) -> None:
    """A certificate the CA really signed, but for another router: the name check alone must refuse it."""
    other = issue_certificates(tmp_path, ["router-b.example.net"])
    sim = sim_factory(tls_cert=other["cert"], tls_key=other["key"])
    error = failure(target(sim.port, host=host, tls=True, ca_file=str(other["ca"])))
    assert error.kind == "tls"
    assert "not trusted" in str(error) and "match" in str(error)
    assert sim.logins == []  # the password was never sent
    assert_all_closed(sim)


def test_plain_client_to_a_tls_port(tls_sim: SimServer) -> None:
    error = failure(target(tls_sim.port))
    assert error.kind == "protocol"
    assert f"127.0.0.1:{tls_sim.port}" in str(error)
    assert "TLS" in str(error)  # the likely cause is named
    assert_all_closed(tls_sim)


def test_tls_client_to_a_plain_port(sim: SimServer) -> None:
    error = failure(target(sim.port, tls=True, tls_verify=False, timeout=TIMEOUT))
    assert error.kind in ("tls", "timeout")
    assert f"127.0.0.1:{sim.port}" in str(error)
    assert_all_closed(sim)


# -- network failures ------------------------------------------------------------------------------------


def test_connection_refused_on_a_closed_port() -> None:
    port = free_port()
    error = failure(target(port))
    assert error.kind == "refused"
    assert str(error) == f"connection refused by 127.0.0.1:{port}"


def test_name_not_resolved() -> None:
    error = failure(target(8728, host="nonexistent.invalid"))
    assert error.kind == "dns"
    assert "nonexistent.invalid" in str(error)


@pytest.fixture
def deaf_listener() -> Iterator[socket.socket]:
    """Accepts TCP connections in the kernel but never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener
    listener.close()


def test_read_timeout_names_seconds_and_address(deaf_listener: socket.socket) -> None:
    port = deaf_listener.getsockname()[1]
    started = time.monotonic()
    error = failure(target(port, timeout=TIMEOUT))
    elapsed = time.monotonic() - started
    assert error.kind == "timeout"
    assert str(error) == f"timed out after 0.5 s logging in to 127.0.0.1:{port}"
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 2


def test_connect_timeout_when_the_backlog_is_full() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        # Linux queues backlog+1 connections; further SYNs are dropped, so connect() waits out its timeout.
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        error = failure(target(port, timeout=TIMEOUT))
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
    assert error.kind == "timeout"
    assert "timed out after 0.5 s" in str(error) and f"127.0.0.1:{port}" in str(error)


def test_stalled_reply_times_out_naming_the_menu(sim: SimServer) -> None:
    sim.faults.stall_after_rows = 1
    started = time.monotonic()
    error = failure(target(sim.port, timeout=TIMEOUT))
    assert time.monotonic() - started < TIMEOUT + 2
    assert error.kind == "timeout"
    assert str(error) == f"timed out after 0.5 s reading from 127.0.0.1:{sim.port} (/ip/pool)"
    assert_all_closed(sim)


def test_not_a_routeros_api(sim: SimServer) -> None:
    sim.faults.not_routeros = True
    error = failure(target(sim.port))
    assert error.kind == "protocol"
    assert "RouterOS API" in str(error) and f"127.0.0.1:{sim.port}" in str(error)
    assert_all_closed(sim)


def test_garbage_that_looks_like_a_huge_word_is_not_routeros() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        client_error: list[RouterError] = []

        def talk() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"\xef\xff\xff\xff" + b"x" * 64)  # a length prefix of ~256 MB
                with contextlib.suppress(OSError):
                    conn.recv(4096)  # until the client hangs up

        thread = threading.Thread(target=talk, daemon=True)
        thread.start()
        client_error.append(failure(target(port)))
        thread.join(5)
        assert not thread.is_alive(), "the client never closed its connection"
    finally:
        server.close()
    assert client_error[0].kind == "protocol"
    assert "not a RouterOS API" in str(client_error[0])


def test_connection_dropped_mid_reply(sim: SimServer) -> None:
    sim.faults.drop_after_rows = 1
    error = failure(target(sim.port))
    assert error.kind == "dropped"
    assert str(error) == f"connection to 127.0.0.1:{sim.port} dropped in the middle of a reply (/ip/pool)"
    assert_all_closed(sim)


def test_fatal_mid_reply(sim: SimServer) -> None:
    sim.faults.fatal_after_rows = 1
    error = failure(target(sim.port))
    assert error.kind == "fatal"
    assert "simulated failure after 1 rows" in str(error) and "(/ip/pool)" in str(error)
    assert_all_closed(sim)


def test_unknown_menu(sim_factory: Callable[..., SimServer]) -> None:
    sim = sim_factory(router_config(ipv6=False))
    with RouterClient(target(sim.port)) as client:
        assert len(client.print("/ip/pool")) == 2
        with pytest.raises(UnknownMenu) as caught:
            client.print("/ipv6/pool")
    assert caught.value.kind == "unknown_menu"
    assert caught.value.path == "/ipv6/pool"
    assert "no /ipv6/pool menu" in str(caught.value) and "no such command" in str(caught.value)
    assert_all_closed(sim)


def test_client_is_not_usable_after_an_error(sim: SimServer) -> None:
    sim.faults.drop_after_rows = 1
    client = RouterClient(target(sim.port))
    client.connect()
    with pytest.raises(RouterError):
        client.print("/ip/pool")
    with pytest.raises(RouterError) as caught:
        client.print("/ip/pool")
    assert caught.value.kind == "closed"
    client.close()  # idempotent
    assert_all_closed(sim)


def test_every_use_is_a_fresh_connection(sim: SimServer) -> None:
    for expected in (1, 2, 3):
        with RouterClient(target(sim.port)) as client:
            client.print("/ip/pool")
            assert open_sessions(sim) == 1
        assert sim.connections_served == expected
        assert_all_closed(sim)


# -- probe / router test -----------------------------------------------------------------------------------


def _router(engine: Engine, router_id: int) -> Router:
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        return router


def test_probe_reports_identity_version_and_rtt_and_is_recorded(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        test = probe(router, settings)
        record_test(router, test)
    assert test.ok and test.error is None
    assert (test.identity, test.version) == ("test-router", "7.16.2 (stable)")
    assert test.rtt_ms is not None and 0 <= test.rtt_ms < 3000
    stored = _router(engine, router_id)
    assert (stored.last_status, stored.last_error) == ("ok", None)
    assert (stored.identity, stored.version) == ("test-router", "7.16.2 (stable)")
    assert stored.last_checked_at is not None
    assert_all_closed(sim)


def test_probe_failure_is_recorded_without_raising(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim)
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        test = probe(router, settings, password="not-the-password")
        record_test(router, test)
    assert not test.ok and test.identity is None
    assert test.error is not None and "invalid user name or password (6)" in test.error
    stored = _router(engine, router_id)
    assert stored.last_status == "error"
    assert stored.last_error == test.error
    assert "not-the-password" not in test.error
    assert_all_closed(sim)
