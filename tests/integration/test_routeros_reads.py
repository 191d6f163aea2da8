"""How RouterClient reads the router's bytes: in large chunks from the real socket (plain and TLS), words
parsed from what arrived, and never a wait for bytes the router has not sent."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from poolimport.core.routers.api import (
    PatientTransport,
    RouterClient,
    RouterError,
    RouterTarget,
    TextProtocol,
)
from poolimport.sim import SimServer
from poolimport.sim.config import generate_used
from poolimport.sim.wire import encode_sentence
from tests.conftest import PASSWORD, router_config
from tests.helpers import assert_all_closed

ROWS = 20_000
TIMEOUT = 10.0


def target(port: int, **fields: Any) -> RouterTarget:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "admin",
        "password": PASSWORD,
        "timeout": TIMEOUT,
    }
    return RouterTarget(**{**values, **fields})


def never() -> str | None:
    return None


@pytest.fixture
def socket_reads(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], list[int]]:
    """`reads(port)` is the list of byte counts that the real client sockets connected to `port` handed
    over, one per recv/recv_into call (SSLSocket's are its own methods, so TLS reads are counted once)."""
    counts: dict[int, list[int]] = {}

    def counting(cls: type, name: str) -> None:
        original = getattr(cls, name)

        def wrapper(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
            got = original(sock, *args, **kwargs)
            with contextlib.suppress(OSError):
                size = got if isinstance(got, int) else len(got)
                counts.setdefault(sock.getpeername()[1], []).append(size)
            return got

        monkeypatch.setattr(cls, name, wrapper)

    for cls in (socket.socket, ssl.SSLSocket):
        for name in ("recv", "recv_into"):
            counting(cls, name)
    return lambda port: counts.get(port, [])


def busy_router(rows: int) -> dict[str, Any]:
    config = router_config()
    config["menus"]["/ip/pool/used"] = generate_used({"pool": "pppoe", "start": "100.64.0.1", "count": rows})[
        1
    ]
    return config


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_large_table_is_read_in_chunks_not_word_by_word(
    sim_factory: Callable[..., SimServer],
    pki: dict[str, Any],
    socket_reads: Callable[[int], list[int]],
    tls: bool,
) -> None:
    options = {"tls_cert": pki["cert"], "tls_key": pki["key"]} if tls else {}
    sim = sim_factory(busy_router(ROWS), **options)
    with RouterClient(target(sim.port, tls=tls, tls_verify=False)) as client:
        rows = client.print("/ip/pool/used")
    assert len(rows) == ROWS
    assert rows[-1] == {
        ".id": f"*{ROWS:X}",
        "pool": "pppoe",
        "address": "100.64.78.32",
        "owner": f"user{ROWS}",
        "info": f"pppoe-out{ROWS}",
    }
    reads = socket_reads(sim.port)
    # Word by word, a client reads at least twice per word (length, then text): over 10 times per row.
    # A TLS record holds 16 KiB, about 200 rows here: one read per 20 rows leaves room for short reads.
    assert 0 < len(reads) <= ROWS // 20, f"{len(reads)} reads for {ROWS} rows"
    assert max(reads) > 4096


def sentences_sent_in_pieces(sentences: list[list[str]], pieces: list[int]) -> Iterator[bytes]:
    data = b"".join(encode_sentence(words) for words in sentences)
    at = 0
    for size in pieces * (len(data) // sum(pieces) + 1):
        if at >= len(data):
            return
        yield data[at : at + size]
        at += size


def test_words_split_anywhere_between_reads_are_parsed_whole() -> None:
    """Length prefixes of 1, 2 and 3 bytes, words longer than one read, and multi-byte text, cut at
    every kind of place by the pieces they arrive in."""
    sentences = [
        ["!re", "=name=" + "p" * 0x7A, "=comment=" + "é" * 0x90],
        ["!re", "=comment=" + "x" * 0x4000, "=info=" + "y" * 150_000],
        ["!re", "=owner=", "=pool=pppoe"],
        ["!done"],
    ]
    ours, routers = socket.socketpair()
    sender = threading.Thread(
        target=lambda: [
            routers.sendall(piece) for piece in sentences_sent_in_pieces(sentences, [1, 2, 3, 70_001])
        ]
    )
    sender.start()
    try:
        protocol = TextProtocol(PatientTransport(ours, TIMEOUT, never), "utf-8")
        got = [protocol.read_row() for _ in sentences]
    finally:
        sender.join()
        ours.close()
        routers.close()
    assert got == [
        ("!re", {"name": "p" * 0x7A, "comment": "é" * 0x90}),
        ("!re", {"comment": "x" * 0x4000, "info": "y" * 150_000}),
        ("!re", {"owner": "", "pool": "pppoe"}),
        ("!done", {}),
    ]


def test_a_read_never_waits_for_more_than_the_router_has_sent() -> None:
    """The router answers one sentence and then waits for the client: a read that insisted on a full
    chunk would wait out the timeout here instead of returning the sentence."""
    ours, routers = socket.socketpair()
    read_first = threading.Event()

    def router() -> None:
        routers.sendall(encode_sentence(["!re", "=name=one"]))
        if read_first.wait(TIMEOUT * 2):
            routers.sendall(encode_sentence(["!done"]))

    sender = threading.Thread(target=router)
    sender.start()
    try:
        protocol = TextProtocol(PatientTransport(ours, TIMEOUT, never), "utf-8")
        assert protocol.read_row() == ("!re", {"name": "one"})
        read_first.set()
        assert protocol.read_row() == ("!done", {})
    finally:
        read_first.set()
        sender.join()
        ours.close()
        routers.close()


@contextlib.contextmanager
def router_that_answers(reply: bytes) -> Iterator[int]:
    """A server that reads the login and answers with `reply`, then waits until the client hangs up."""
    server = socket.create_server(("127.0.0.1", 0))

    def talk() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(reply)
            with contextlib.suppress(OSError):
                while conn.recv(4096):
                    pass

    thread = threading.Thread(target=talk, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the client never closed its connection"
    finally:
        server.close()


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (b"\xf8\x00", "0xf8"),
        (encode_sentence(["HTTP/1.0 200 OK"]), "'HTTP/1.0 200 OK'"),
        (b"\x00", "empty sentence"),
        (b"\xef\xff\xff\xff" + b"x" * 64, "268435455 bytes"),
    ],
    ids=["control-byte", "reply-word", "empty-sentence", "huge-word"],
)
def test_bytes_that_are_not_the_routeros_api_are_one_protocol_error(reply: bytes, detail: str) -> None:
    with router_that_answers(reply) as port:
        client = RouterClient(target(port))
        with pytest.raises(RouterError) as caught:
            client.connect()
    assert caught.value.kind == "protocol"
    assert str(caught.value).startswith(f"127.0.0.1:{port} is not a RouterOS API (")
    assert detail in str(caught.value)


@pytest.mark.parametrize(
    "trap",
    [["!trap", "=message=no", "=extra=field"], ["!trap"]],
    ids=["extra-attribute", "no-message"],
)
def test_a_trap_of_any_shape_is_one_router_error(trap: list[str]) -> None:
    with router_that_answers(encode_sentence(trap) + encode_sentence(["!done"])) as port:
        client = RouterClient(target(port))
        with pytest.raises(RouterError) as caught:
            client.connect()
    assert caught.value.kind == "auth"
    assert str(caught.value).startswith(f"login to 127.0.0.1:{port} as 'admin' failed: ")


# -- rows handed over as they arrive ---------------------------------------------------------------------


def test_rows_are_handed_over_as_they_arrive(sim_factory: Callable[..., SimServer]) -> None:
    """The router sends three rows and then goes quiet: a client that waited for the reply's end would
    time out instead of handing them over."""
    sim = sim_factory(busy_router(10))
    sim.faults.stall_after_rows = 3
    with RouterClient(target(sim.port, timeout=TIMEOUT)) as client:
        rows = client.rows("/ip/pool/used")
        first = [next(rows) for _ in range(3)]
        rows.close()
    assert [row["address"] for row in first] == ["100.64.0.1", "100.64.0.2", "100.64.0.3"]


def test_a_reply_left_unread_ends_the_connection(sim_factory: Callable[..., SimServer]) -> None:
    """The rest of a reply would be read as the answer to the next command: the client gives up instead."""
    sim = sim_factory(busy_router(10))
    client = RouterClient(target(sim.port))
    client.connect()
    rows = client.rows("/ip/pool/used")
    assert next(rows)["address"] == "100.64.0.1"
    rows.close()
    with pytest.raises(RouterError) as caught:
        client.print("/ip/pool")
    assert caught.value.kind == "closed"
    assert_all_closed(sim)
