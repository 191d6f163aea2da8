"""Threaded TCP server that speaks the RouterOS API wire protocol to real clients (librouteros).

Behaviour choices worth knowing:

* Plain login (RouterOS >= 6.43): ``/login =name= =password=``. A bare ``/login`` in plain mode
  fails with the bad-credentials trap (its text: ``login_error`` in the config), like a router on
  which the challenge login is gone.
* Legacy login (< 6.43): any ``/login`` without ``=response=`` (bare or with a password) answers
  ``!done =ret=<challenge>``, so a plain-login client "succeeds" without being logged in and its
  next command gets ``not logged in`` -- which is what such a client sees on an old router.
* Unknown commands get the two-trap reply; the directory named in the first trap is the first
  path segment that does not exist, as RouterOS reports it (``/foo/print`` -> ``(foo)``).
* ``.tag=X`` is echoed as the bare word ``.tag=X`` (no leading ``=``) at the end of every reply
  sentence of that command, as RouterOS does. librouteros 4.2.2 cannot parse such words.
* Faults count ``!re`` rows per reply, for every print (identity/resource included); a fault
  fires once its N-th row is sent, even if only ``!done`` would have followed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolimport.sim.config import load_config, normalize_rows
from poolimport.sim.query import QueryError, compile_query
from poolimport.sim.wire import WireError, encode_sentence, read_sentence

log = logging.getLogger(__name__)

NOT_ROUTEROS_REPLY = b"HTTP/1.0 400 Bad Request\r\n\r\n"
# A sim must not let a garbage stream make it allocate gigabytes for one word.
MAX_INCOMING_WORD = 16 * 1024 * 1024
HANDSHAKE_TIMEOUT = 5.0
FLUSH_AT = 64 * 1024
ACCEPT_POLL = 0.05


@dataclass(slots=True)
class Faults:
    """Runtime-switchable fault injection; sessions re-read these before every row."""

    stall_after_rows: int = 0
    drop_after_rows: int = 0
    fatal_after_rows: int = 0
    row_delay: float = 0.0
    refuse_logins: bool = False
    not_routeros: bool = False


class _Closed(Exception):
    """Peer closed the connection (or the server is stopping)."""


class _SocketReader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise _Closed
            self.buf += chunk
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


class SimServer:
    def __init__(
        self,
        config: Mapping[str, Any] | str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
    ) -> None:
        self.config = load_config(config)
        self.host = host
        self.port = port
        self.tls_cert = tls_cert if tls_cert is not None else self.config["tls_cert"]
        self.tls_key = tls_key if tls_key is not None else self.config["tls_key"]
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate and a key")
        self.faults = Faults(**self.config["faults"])
        self.connections_served = 0
        self.logins: list[tuple[str, bool]] = []
        self._menus: dict[str, list[dict[str, str]]] = dict(self.config["menus"])
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sessions: set[_Session] = set()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._started_at = time.monotonic()

    # -- public API -------------------------------------------------------------------------

    @property
    def identity(self) -> str:
        return str(self.config["identity"])

    def set_menu(self, path: str, rows: list[dict[str, Any]]) -> None:
        normalized = normalize_rows(path, list(rows))
        with self._lock:
            self._menus[path] = normalized

    def start(self) -> SimServer:
        if self._listener is not None:
            raise RuntimeError("SimServer already started")
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.create_server((self.host, self.port), family=family, backlog=128)
        try:
            if self.tls_cert is not None:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(str(self.tls_cert), str(self.tls_key))
                # Handshakes run in the per-connection thread so a silent client can't block accept().
                listener = ctx.wrap_socket(listener, server_side=True, do_handshake_on_connect=False)
        except BaseException:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self._started_at = time.monotonic()
        self._stopping.clear()
        self._listener = listener
        # A socketpair lets stop() wake the accept loop at once instead of waiting out a poll.
        self._wake = socket.socketpair()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"sim-accept-{self.identity}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        deadline = time.monotonic() + timeout
        self._stopping.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"x")
        if self._accept_thread is not None:
            self._accept_thread.join(max(0.0, deadline - time.monotonic()))
            self._accept_thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._wake is not None:
            for end in self._wake:
                end.close()
            self._wake = None
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.abort()
        for session in sessions:
            session.thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals used by sessions ---------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None and self._wake is not None
        listener, wake = self._listener, self._wake[0]
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([listener, wake], [], [], ACCEPT_POLL)
                if listener not in ready:
                    continue
                conn, _addr = listener.accept()
            except OSError as exc:
                if self._stopping.is_set():
                    break
                log.warning("sim %s: accept failed: %s", self.identity, exc)
                self._stopping.wait(ACCEPT_POLL)
                continue
            conn.settimeout(None)
            session = _Session(self, conn)
            with self._lock:
                self.connections_served += 1
                self._sessions.add(session)
            session.thread.start()

    def _forget(self, session: _Session) -> None:
        with self._lock:
            self._sessions.discard(session)

    def _record_login(self, name: str, ok: bool) -> None:
        with self._lock:
            self.logins.append((name, ok))

    def _check_password(self, name: str, password: str) -> bool:
        return any(u["name"] == name and u["password"] == password for u in self.config["users"])

    def _check_response(self, name: str, response: str, challenge: bytes) -> bool:
        for user in self.config["users"]:
            if user["name"] != name:
                continue
            digest = hashlib.md5(b"\x00" + user["password"].encode() + challenge, usedforsecurity=False)
            if response == "00" + digest.hexdigest():
                return True
        return False

    def _rows(self, path: str) -> list[dict[str, str]] | None:
        """Rows a print on `path` returns, or None when the menu does not exist."""
        if path == "/system/identity":
            return [{"name": self.identity}]
        if path == "/system/resource":
            return [self._resource()]
        if not self.config["ipv6"] and (path == "/ipv6" or path.startswith("/ipv6/")):
            return None
        return self._menus.get(path)

    def _known_paths(self) -> set[str]:
        paths = {"/system/identity", "/system/resource", *self._menus}
        if not self.config["ipv6"]:
            paths = {p for p in paths if not (p == "/ipv6" or p.startswith("/ipv6/"))}
        return paths

    def _resource(self) -> dict[str, str]:
        row = {
            "uptime": format_uptime(time.monotonic() - self._started_at),
            "version": self.config["version"],
            "build-time": "2024-12-10 09:35:36",
            "factory-software": "7.1",
            "free-memory": "3781246976",
            "total-memory": "4294967296",
            "cpu": "ARM64",
            "cpu-count": "4",
            "cpu-frequency": "1700",
            "cpu-load": "2",
            "free-hdd-space": "96075776",
            "total-hdd-space": "134217728",
            "architecture-name": "arm64",
            "board-name": "CCR2004-1G-12S+2XS",
            "platform": "MikroTik",
        }
        row.update(self.config["resource"])
        return row


def format_uptime(seconds: float) -> str:
    """RouterOS style: 1w2d3h4m5s, zero parts left out, "0s" at minimum."""
    rest = int(seconds)
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


class _Session:
    def __init__(self, server: SimServer, sock: socket.socket) -> None:
        self.srv = server
        self.sock = sock
        self.encoding: str = server.config["encoding"]
        self.reader = _SocketReader(sock)
        self.out = bytearray()
        self.logged_in = False
        self.challenge: bytes | None = None
        self.thread = threading.Thread(target=self.run, name=f"sim-{server.identity}", daemon=True)

    def abort(self) -> None:
        # shutdown (not close) wakes a thread blocked in recv/sendall; that thread then closes.
        # The base-class call skips SSLSocket.shutdown, which would swap TLS state under the reader.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)

    def run(self) -> None:
        try:
            if isinstance(self.sock, ssl.SSLSocket):
                self.sock.settimeout(HANDSHAKE_TIMEOUT)
                self.sock.do_handshake()
                self.sock.settimeout(None)
            if self.srv.faults.not_routeros:
                self._read()
                self.sock.sendall(NOT_ROUTEROS_REPLY)
                return
            while not self.srv._stopping.is_set():
                words = self._read()
                if words and not self._handle(words[0], words[1:]):
                    break
        except (_Closed, OSError, WireError) as exc:
            log.debug("sim %s: session ended: %r", self.srv.identity, exc)
        except Exception:
            log.exception("sim %s: session crashed", self.srv.identity)
        finally:
            try:
                self.sock.close()
            finally:
                self.srv._forget(self)

    def _read(self) -> list[str]:
        raw = read_sentence(self.reader.read, MAX_INCOMING_WORD)
        return [word.decode(self.encoding, errors="replace") for word in raw]

    # -- sending ----------------------------------------------------------------------------

    def _send(self, reply: str, words: Iterable[str] = (), tag: str | None = None) -> None:
        sentence = [reply, *words]
        if tag is not None:
            sentence.append(f".tag={tag}")
        self.out += encode_sentence(sentence, self.encoding)
        if len(self.out) >= FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self.out:
            data, self.out = bytes(self.out), bytearray()
            self.sock.sendall(data)

    def _fatal(self, message: str) -> bool:
        self._send("!fatal", [message])
        self._flush()
        return False

    def _trap(self, message: str, tag: str | None, category: int | None = None) -> None:
        words = [f"=category={category}"] if category is not None else []
        self._send("!trap", [*words, f"=message={message}"], tag)
        self._send("!done", tag=tag)
        self._flush()

    # -- commands ---------------------------------------------------------------------------

    def _handle(self, command: str, args: list[str]) -> bool:
        """Run one command; False means the session is over."""
        attrs: dict[str, str] = {}
        queries: list[str] = []
        tag: str | None = None
        for word in args:
            if word.startswith("="):
                key, _, value = word[1:].partition("=")
                attrs[key] = value
            elif word.startswith(".tag="):
                tag = word[5:]
            elif word.startswith("?"):
                queries.append(word)
            # Other word shapes are ignored, as RouterOS does with unknown API attributes.
        if command == "/quit":
            return self._fatal("session terminated on request")
        if command == "/login":
            self._login(attrs, tag)
            return True
        if not self.logged_in:
            self._trap("not logged in", tag)
            return True
        path, _, verb = command.rpartition("/")
        rows = self.srv._rows(path) if verb in ("print", "getall") else None
        if rows is None:
            self._unknown(command, tag)
            return True
        return self._print(rows, attrs, queries, tag)

    def _login(self, attrs: dict[str, str], tag: str | None) -> None:
        name = attrs.get("name", "")
        legacy = self.srv.config["login"] == "legacy"
        if legacy and "response" not in attrs:
            self.challenge = secrets.token_bytes(16)
            self._send("!done", [f"=ret={self.challenge.hex()}"], tag)
            self._flush()
            return
        if legacy:
            ok = self.challenge is not None and self.srv._check_response(
                name, attrs["response"], self.challenge
            )
            self.challenge = None  # a challenge answers one attempt only
        else:
            ok = "password" in attrs and self.srv._check_password(name, attrs["password"])
        ok = ok and not self.srv.faults.refuse_logins
        self.srv._record_login(name, ok)
        if ok:
            self.logged_in = True
            self._send("!done", tag=tag)
            self._flush()
        else:
            self._trap(self.srv.config["login_error"], tag)

    def _unknown(self, command: str, tag: str | None) -> None:
        known = self.srv._known_paths()
        prefixes = {p[:i] for p in known for i in range(1, len(p) + 1) if i == len(p) or p[i] == "/"}
        segments = [s for s in command.split("/") if s]
        missing = segments[-1] if segments else command
        for i, segment in enumerate(segments):
            prefix = "/" + "/".join(segments[: i + 1])
            is_command = prefix.rpartition("/")[0] in known and segment in ("print", "getall")
            if prefix not in prefixes and not is_command:
                missing = segment
                break
        self._send("!trap", ["=category=0", f"=message=no such command or directory ({missing})"], tag)
        self._send("!trap", ["=message=no such command prefix"], tag)
        self._send("!done", tag=tag)
        self._flush()

    def _print(
        self, rows: list[dict[str, str]], attrs: dict[str, str], queries: list[str], tag: str | None
    ) -> bool:
        try:
            match = compile_query(queries)
        except QueryError as exc:
            self._trap(str(exc), tag)
            return True
        selected = [row for row in rows if match(row)]
        if "count-only" in attrs:
            self._send("!done", [f"=ret={len(selected)}"], tag)
            self._flush()
            return True
        proplist = [p for p in attrs.get(".proplist", "").split(",") if p] if ".proplist" in attrs else None
        if not selected and self.srv.config["send_empty"]:
            self._send("!empty", tag=tag)
        faults = self.srv.faults
        for sent, row in enumerate(selected, start=1):
            if faults.row_delay > 0:
                self._flush()
                if self.srv._stopping.wait(faults.row_delay):
                    return False
            keys = row if proplist is None else [k for k in proplist if k in row]
            self._send("!re", [f"={k}={row[k]}" for k in keys], tag)
            if faults.stall_after_rows and sent >= faults.stall_after_rows:
                self._flush()
                self._stall()
                return False
            if faults.drop_after_rows and sent >= faults.drop_after_rows:
                self._flush()
                return False
            if faults.fatal_after_rows and sent >= faults.fatal_after_rows:
                return self._fatal(f"simulated failure after {sent} rows")
        self._send("!done", tag=tag)
        self._flush()
        return True

    def _stall(self) -> None:
        # Keep the connection open but deaf: swallow input until the client or the server gives up.
        while self.sock.recv(65536):
            pass
