"""The simulator driven by the real librouteros client over real sockets."""

from __future__ import annotations

import contextlib
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import librouteros
import pytest
from librouteros.api import Api
from librouteros.exceptions import ConnectionClosed, FatalError, MultiTrapError, TrapError
from librouteros.login import token
from librouteros.query import And, Key, Or

from poolimport.sim import SimServer
from poolimport.sim.wire import encode_sentence, read_sentence
from tests.helpers import sim_threads
from tests.sim.conftest import BASE_CONFIG, connect, make_config


def test_plain_login_ok_and_bad(sim: SimServer) -> None:
    connect(sim).close()
    with pytest.raises(TrapError) as info:
        connect(sim, password="wrong")
    assert info.value.message == "invalid user name or password (6)"
    with pytest.raises(TrapError):
        connect(sim, username="nobody")
    assert sim.logins == [("admin", True), ("admin", False), ("nobody", False)]
    assert sim.connections_served == 3


def test_plain_mode_rejects_bare_challenge_login(sim: SimServer) -> None:
    with pytest.raises(TrapError, match="invalid user name or password"):
        connect(sim, login_method=token)


def test_legacy_login_ok_and_bad(sim_factory: Any) -> None:
    sim = sim_factory(make_config(login="legacy"))
    api = connect(sim, login_method=token)
    assert tuple(api.path("/system/identity")) == ({"name": "core-1"},)
    api.close()
    with pytest.raises(TrapError, match="invalid user name or password"):
        connect(sim, password="wrong", login_method=token)
    assert sim.logins == [("admin", True), ("admin", False)]


def test_legacy_router_leaves_plain_login_client_logged_out(sim_factory: Any) -> None:
    # Pre-6.43 routers answer a plain login with a challenge, so the client only finds out later.
    sim = sim_factory(make_config(login="legacy"))
    api = connect(sim)
    with pytest.raises(TrapError, match="not logged in"):
        tuple(api.path("/ip/pool"))
    api.close()


def test_refuse_logins(sim: SimServer) -> None:
    sim.faults.refuse_logins = True
    with pytest.raises(TrapError, match="invalid user name or password"):
        connect(sim)
    assert sim.logins == [("admin", False)]


def test_command_before_login_is_trapped(sim: SimServer) -> None:
    with socket.create_connection((sim.host, sim.port), timeout=5) as sock:
        sock.sendall(encode_sentence(["/ip/pool/print"]))
        reader = sock.makefile("rb")
        assert read_sentence(reader.read) == [b"!trap", b"=message=not logged in"]
        assert read_sentence(reader.read) == [b"!done"]


@pytest.mark.parametrize("path", list(BASE_CONFIG["menus"]))
def test_print_each_menu(api: Api, path: str) -> None:
    rows = tuple(api.path(path))
    expected = BASE_CONFIG["menus"][path]
    assert len(rows) == len(expected)
    for n, (got, want) in enumerate(zip(rows, expected, strict=True), start=1):
        assert got[".id"] == f"*{n:X}"
        # librouteros casts numeric strings; compare as strings.
        assert {k: str(v) for k, v in got.items() if k != ".id"} == want


def test_system_menus(api: Api) -> None:
    assert tuple(api.path("/system/identity")) == ({"name": "core-1"},)
    (resource,) = tuple(api.path("/system/resource"))
    assert resource["version"] == "7.16.2 (stable)"
    assert {"board-name", "uptime", "cpu-load"} <= set(resource)


def test_getall_alias(api: Api) -> None:
    assert len(tuple(api("/ip/pool/getall"))) == 2


def test_proplist(api: Api) -> None:
    rows = tuple(api.path("/ip/pool").select(Key("name"), Key("ranges")))
    assert rows == (
        {"name": "pppoe", "ranges": "100.64.0.2-100.64.255.254"},
        {"name": "static", "ranges": "10.10.0.0/24"},
    )
    assert tuple(api.rawCmd("/ip/pool/print", "=.proplist=.id")) == ({".id": "*1"}, {".id": "*2"})


def test_query_filters(api: Api) -> None:
    used = api.path("/ip/pool/used")
    static = tuple(used.select(Key("owner")).where(Key("pool") == "static"))
    assert static == ({"owner": "printer"},)
    assert len(tuple(api.rawCmd("/ip/pool/used/print", "?pool=pppoe"))) == 10
    both = tuple(api.rawCmd("/ip/pool/used/print", "?pool=pppoe", "?owner=user3"))
    assert [row["address"] for row in both] == ["100.64.0.3"]
    assert tuple(api.rawCmd("/ip/pool/print", "?comment=fixed", "?name=pppoe")) == ()
    assert len(tuple(api.rawCmd("/ip/pool/print", "?comment"))) == 2
    assert tuple(api.rawCmd("/ip/pool/print", "?-comment")) == ()
    either = used.select(Key("owner")).where(Or(Key("owner") == "user2", Key("owner") == "printer"))
    assert sorted(row["owner"] for row in either) == ["printer", "user2"]
    not_pppoe = used.select(Key("owner")).where(Key("pool") != "pppoe")
    assert tuple(not_pppoe) == ({"owner": "printer"},)
    anded = used.select(Key("address")).where(And(Key("pool") == "pppoe", Key("owner").In("user4", "user5")))
    assert [row["address"] for row in anded] == ["100.64.0.4", "100.64.0.5"]


def test_count_only(api: Api) -> None:
    assert tuple(api.rawCmd("/ip/pool/used/print", "=count-only=", "?pool=pppoe")) == ({"ret": 10},)


def test_tag_is_echoed_as_bare_attribute_word(api: Api) -> None:
    # librouteros 4.2.2 cannot parse `.tag=` reply words, so read the sentences at protocol level.
    api.protocol.writeSentence("/ip/pool/print", "=.proplist=name", ".tag=7")
    assert api.protocol.readSentence() == ("!re", ("=name=pppoe", ".tag=7"))
    assert api.protocol.readSentence() == ("!re", ("=name=static", ".tag=7"))
    assert api.protocol.readSentence() == ("!done", (".tag=7",))
    api.protocol.writeSentence("/foo/print", ".tag=x")
    assert api.protocol.readSentence()[1][-1] == ".tag=x"
    assert api.protocol.readSentence()[1][-1] == ".tag=x"
    assert api.protocol.readSentence() == ("!done", (".tag=x",))
    # No tag sent, none echoed.
    assert tuple(api.rawCmd("/system/identity/print")) == ({"name": "core-1"},)


def test_tag_reply_trips_librouteros_parser(api: Api) -> None:
    with pytest.raises(ValueError):
        tuple(api.rawCmd("/system/identity/print", ".tag=1"))


def test_unknown_path_is_a_multitrap(api: Api) -> None:
    with pytest.raises(MultiTrapError) as info:
        tuple(api.path("/foo"))
    first, second = info.value.traps
    assert (first.category, first.message) == (0, "no such command or directory (foo)")
    assert (second.category, second.message) == (None, "no such command prefix")
    with pytest.raises(MultiTrapError, match=r"\(add\)"):
        tuple(api.path("/ip/pool")("add", name="x"))
    # The session survives traps.
    assert len(tuple(api.path("/ip/pool"))) == 2


def test_ipv6_disabled_makes_ipv6_unknown(sim_factory: Any) -> None:
    sim = sim_factory(make_config(ipv6=False))
    api = connect(sim)
    with pytest.raises(MultiTrapError, match=r"no such command or directory \(ipv6\)"):
        tuple(api.path("/ipv6/pool"))
    assert len(tuple(api.path("/ip/pool"))) == 2
    api.close()


def test_empty_reply(sim_factory: Any) -> None:
    plain = sim_factory()
    api = connect(plain)
    api.protocol.writeSentence("/ppp/secret/print")
    assert api.protocol.readSentence() == ("!done", ())
    api.close()

    sim = sim_factory(make_config(send_empty=True))
    api = connect(sim)
    api.protocol.writeSentence("/ppp/secret/print")
    assert api.protocol.readSentence() == ("!empty", ())
    assert api.protocol.readSentence() == ("!done", ())
    assert tuple(api.path("/ppp/secret")) == ()
    assert len(tuple(api.path("/ip/pool"))) == 2
    api.close()


def test_quit_is_fatal(api: Api) -> None:
    with pytest.raises(FatalError, match="session terminated on request"):
        tuple(api.rawCmd("/quit"))


def test_set_menu_at_runtime(sim: SimServer, api: Api) -> None:
    sim.set_menu("/ip/pool", [{"name": "new", "ranges": "192.0.2.0/24"}])
    assert tuple(api.path("/ip/pool")) == ({".id": "*1", "name": "new", "ranges": "192.0.2.0/24"},)
    sim.set_menu("/ip/dhcp-server/lease", [{"address": "192.0.2.9"}])
    assert len(tuple(api.path("/ip/dhcp-server/lease"))) == 1


def test_latin1_encoding_sends_bytes_utf8_rejects(sim_factory: Any) -> None:
    cfg = make_config(encoding="latin-1")
    cfg["menus"]["/ip/pool"] = [{"name": "café", "ranges": "192.0.2.0/24"}]
    sim = sim_factory(cfg)
    api = connect(sim)
    api.protocol.writeSentence("/ip/pool/print", "=.proplist=name")
    transport = api.protocol.transport
    assert transport.read(4) == b"\x03!re"
    length = transport.read(1)[0]
    raw = transport.read(length)
    assert raw == b"=name=caf\xe9"
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8", errors="strict")
    api.close()


def test_long_words_use_multi_byte_lengths_both_ways(sim: SimServer, api: Api) -> None:
    # 3-byte prefix on input (query word), 4-byte prefix on output (row value).
    long_comment = "c" * 0x200000
    sim.set_menu("/ip/pool", [{"name": "big", "comment": long_comment}, {"name": "small", "comment": "s"}])
    rows = tuple(api.rawCmd("/ip/pool/print", "?comment=" + "s" * 0x4000))
    assert rows == ()
    rows = tuple(api.path("/ip/pool"))
    assert rows[0]["comment"] == long_comment


def test_many_routers_many_clients(sim_factory: Any) -> None:
    sims = [sim_factory(make_config(identity=f"r{n}")) for n in range(10)]
    for sim in sims:
        sim.set_menu(
            "/ip/pool/used", [{"pool": "p", "address": f"10.0.{i // 256}.{i % 256}"} for i in range(100)]
        )

    def work(sim: SimServer) -> tuple[str, int]:
        api = connect(sim)
        try:
            (ident,) = tuple(api.path("/system/identity"))
            return str(ident["name"]), len(tuple(api.path("/ip/pool/used")))
        finally:
            api.close()

    jobs = [sim for sim in sims for _ in range(4)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(work, jobs))
    assert results == [(f"r{n}", 100) for n in range(10) for _ in range(4)]
    assert all(sim.connections_served == 4 for sim in sims)


def test_stop_ends_the_sessions_of_connected_clients(sim: SimServer) -> None:
    idle = connect(sim)
    stalled = connect(sim)
    sim.faults.stall_after_rows = 1
    reader = threading.Thread(target=lambda: _swallow(stalled), daemon=True)
    reader.start()
    threads = sim_threads(sim)
    assert len(threads) == 3  # the accept loop and the two logged-in sessions
    sim.stop(timeout=10)  # neither session ends by itself: only stop() can end them within the bound
    assert [thread.name for thread in threads if thread.is_alive()] == []
    reader.join(10)
    assert not reader.is_alive()
    with pytest.raises((ConnectionClosed, OSError)):
        tuple(idle.path("/ip/pool"))
    with pytest.raises(OSError):
        socket.create_connection((sim.host, sim.port), timeout=1)


def _swallow(api: Api) -> None:
    with contextlib.suppress(ConnectionClosed, OSError):
        tuple(api.path("/ip/pool/used"))


def test_context_manager_and_ipv6_listener() -> None:
    try:
        with SimServer(make_config(), host="::1") as sim:
            api = librouteros.connect("::1", "admin", "secret", port=sim.port, timeout=5)
            assert tuple(api.path("/system/identity")) == ({"name": "core-1"},)
            api.close()
    except OSError as exc:  # pragma: no cover - host without IPv6 loopback
        pytest.skip(f"no IPv6 loopback: {exc}")
