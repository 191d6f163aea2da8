"""RouterClient: one fresh librouteros connection per use, raw text values, one clear error per failure."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from librouteros import create_transport
from librouteros.api import Api
from librouteros.connections import SocketTransport
from librouteros.exceptions import (
    ConnectionClosed,
    FatalError,
    LibRouterosError,
    MultiTrapError,
    ProtocolError,
    TrapError,
)
from librouteros.login import encode_password
from librouteros.protocol import ApiProtocol

from poolimport.core.errors import PoolimportError

REPLY_WORDS = frozenset({"!re", "!done", "!trap", "!fatal", "!empty"})
# A field name RouterOS never uses (its own dot-names are .id, .tag, .nextid): lists the
# attributes whose bytes did not decode in the router's encoding.
UNDECODABLE = ".undecodable"
MAX_WORD_BYTES = 16 * 1024 * 1024
# Up to this much is taken from the socket at once: what has arrived, never a wait for more.
READ_CHUNK = 64 * 1024
# Socket reads wait this long at a time, so a stop request is seen this soon however slowly a router sends.
WAIT_SLICE = 0.25
Row = dict[str, str]
# Returns a reason to stop (job time limit, operator's cancel) or None.
StopCheck = Callable[[], str | None]


class RouterError(PoolimportError):
    """A router operation failed; str() is the one line an operator reads. kind is for code."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class UnknownMenu(RouterError):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__("unknown_menu", f"router has no {path} menu ({detail})")
        self.path = path


class RouterStopped(RouterError):
    """The caller asked to stop (time limit, cancel) while talking to the router; str() is its reason."""

    def __init__(self, reason: str) -> None:
        super().__init__("stopped", reason)


class NotRouterOS(ProtocolError):
    pass


@dataclass(frozen=True)
class RouterTarget:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    encoding: str = "utf-8"
    timeout: float = 10.0

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _never_stop() -> str | None:
    return None


class PatientTransport(SocketTransport):
    """Reads in WAIT_SLICE waits, asking `should_stop` between them: a router that trickles bytes, each gap
    under its timeout, can't hold the caller. The router is given up after `timeout` without a byte.

    Reads take whatever has arrived, up to READ_CHUNK, into a buffer the protocol cuts words from: a
    system call per word would cost more than the words. A read never waits for more than is needed."""

    def __init__(self, sock: socket.socket, timeout: float, should_stop: StopCheck) -> None:
        super().__init__(sock)
        self.timeout = timeout
        self.should_stop = should_stop
        self._next_check = 0.0
        self._buffer = b""
        self._pos = 0
        sock.settimeout(min(WAIT_SLICE, timeout))

    def write(self, data: bytes) -> None:
        # sendall may have sent part of the data when it times out: a write waits the whole timeout at once.
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.settimeout(min(WAIT_SLICE, self.timeout))

    def read(self, length: int) -> bytes:
        """Exactly `length` bytes."""
        if len(self._buffer) - self._pos < length:
            self._fill(length)
        start = self._pos
        self._pos = start + length
        return self._buffer[start : self._pos]

    def window(self) -> tuple[bytes, int]:
        """The bytes buffered so far and the read position in them, for a parser that cuts words in place."""
        return self._buffer, self._pos

    def more(self, pos: int, count: int) -> tuple[bytes, int]:
        """The window once everything before `pos` is consumed and `count` bytes from `pos` are buffered."""
        self._pos = pos
        self._fill(count)
        return self._buffer, self._pos

    def advance(self, pos: int) -> None:
        """Everything before `pos` of the window is consumed."""
        self._pos = pos

    def _fill(self, count: int) -> None:
        """Read until at least `count` bytes are buffered past the read position."""
        parts = [self._buffer[self._pos :]]
        have = len(parts[0])
        now = last_byte = time.monotonic()
        try:
            while have < count:
                self._check_stop(now)
                try:
                    got = self.sock.recv(READ_CHUNK)
                except TimeoutError:
                    now = time.monotonic()
                    if now - last_byte >= self.timeout:
                        self._check_stop(now)  # a stop asked for meanwhile is the better reason
                        raise
                    continue
                if not got:
                    raise ConnectionClosed("Connection unexpectedly closed.")
                parts.append(got)
                have += len(got)
                now = last_byte = time.monotonic()
        finally:
            self._buffer = b"".join(parts)
            self._pos = 0

    def check_stop(self) -> None:
        self._next_check = 0.0
        self._check_stop(time.monotonic())

    def _check_stop(self, now: float) -> None:
        # A fast router fills a chunk in well under a slice: ask once per slice at most.
        if now < self._next_check:
            return
        self._next_check = now + WAIT_SLICE
        reason = self.should_stop()
        if reason:
            raise RouterStopped(reason)


def _extra_length_bytes(first: int) -> int:
    """How many bytes follow a length prefix's first byte (which is 0x80 or more)."""
    if first < 0xC0:
        return 1
    if first < 0xE0:
        return 2
    if first < 0xF0:
        return 3
    # 0xF0 starts a length of 256 MiB or more (over any limit here); 0xF1 and up are control bytes.
    raise NotRouterOS(f"a length prefix starting {first:#04x}")


_LENGTH_MASKS = {1: 0x3FFF, 2: 0x1FFFFF, 3: 0xFFFFFFF}


class TextProtocol(ApiProtocol):
    """Decodes in the router's encoding and reports undecodable bytes instead of dropping them."""

    transport: PatientTransport

    def __init__(self, transport: PatientTransport, encoding: str) -> None:
        super().__init__(transport=transport, encoding=encoding)
        self.sentences_read = 0

    def read_row(self) -> tuple[str, Row]:
        """One sentence: its reply word and its other words as fields by name, values as the router's
        text. Bytes that don't decode become U+FFFD, and an !re row names their fields under UNDECODABLE.
        NotRouterOS for a bad length prefix, a word over MAX_WORD_BYTES (before it is read) or a reply
        word RouterOS doesn't send."""
        # Words are cut, decoded and split in one pass over the transport's buffer: this loop runs for
        # every word of every row, and each step saved here is a measurable share of a large import.
        transport, encoding = self.transport, self.encoding
        buffer, pos = transport.window()
        reply: str | None = None
        row: Row = {}
        undecodable: list[str] = []
        text = ""
        while True:
            end = len(buffer)
            if pos >= end:
                buffer, pos = transport.more(pos, 1)
                continue
            first = buffer[pos]
            if first < 0x80:  # the common case: a word shorter than 128 bytes
                start, length = pos + 1, first
            else:
                extra = _extra_length_bytes(first)
                start = pos + 1 + extra
                if start > end:
                    buffer, pos = transport.more(pos, 1 + extra)
                    continue
                length = int.from_bytes(buffer[pos:start], "big") & _LENGTH_MASKS[extra]
                if length > MAX_WORD_BYTES:
                    raise NotRouterOS(f"a word of {length} bytes")
            if not length:
                transport.advance(start)
                break
            stop = start + length
            if stop > end:
                buffer, pos = transport.more(pos, stop - pos)
                continue
            try:
                text = buffer[start:stop].decode(encoding)
            except UnicodeDecodeError:
                text = buffer[start:stop].decode(encoding, errors="replace")
                undecodable.append(text.lstrip("=").partition("=")[0])
            pos = stop
            if reply is None:
                reply = text
                continue
            key, _, value = text.lstrip("=").partition("=")
            row[key] = value
        if reply is None:
            raise NotRouterOS("an empty sentence")
        if reply not in REPLY_WORDS:
            raise NotRouterOS(f"unexpected reply {reply[:40]!r}")
        if reply == "!fatal":
            self.transport.close()
            raise FatalError(text if row else "")  # its one word is the message, not a field
        if undecodable and reply == "!re":  # a !trap's fields make its message
            row[UNDECODABLE] = ",".join(undecodable)
        self.sentences_read += 1
        return reply, row


class TextApi(Api):
    """Keeps every value as the router's text: librouteros would turn "100" into 100 and "yes" into True."""

    protocol: TextProtocol

    def readSentence(self) -> tuple[str, Row]:  # noqa: N802 - librouteros' name
        return self.protocol.read_row()

    def stream(self, command: str, *words: str) -> Iterator[Row]:
        """Sends one command and yields the rows of its reply as they arrive; once the reply is over,
        TrapError or MultiTrapError if the router answered with traps. (librouteros reads a whole reply
        before handing over its first row.)"""
        self.protocol.writeSentence(command, *words)
        traps: list[TrapError] = []
        while True:
            reply, row = self.protocol.read_row()
            if reply == "!trap":
                # librouteros' TrapError(**row) is a TypeError for a trap with another attribute or none.
                traps.append(TrapError(row.get("message", "(no message)")))
            elif reply in ("!re", "!done") and row:  # a !done can carry a value (the legacy login's =ret=)
                yield row
            if reply == "!done":
                break
        if len(traps) > 1:
            raise MultiTrapError(*traps)
        if traps:
            raise traps[0]


def _ssl_wrapper(target: RouterTarget) -> Callable[[socket.socket], socket.socket]:
    context = (
        ssl.create_default_context(cafile=target.ca_file)
        if target.tls_verify
        else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    )
    if not target.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # RouterOS API-SSL without a certificate offers only anonymous DH suites.
    context.set_ciphers("DEFAULT:ADH-AES256-SHA256:ADH-AES128-SHA256:@SECLEVEL=0")
    return lambda sock: context.wrap_socket(sock, server_hostname=target.host)


class RouterClient:
    """Use as a context manager; the connection is closed on every path and never reused after an error.

    `should_stop` is asked before connecting and about every WAIT_SLICE while waiting for the router; a
    reason from it ends the connection with RouterStopped. Connecting itself waits up to the timeout."""

    def __init__(self, target: RouterTarget, should_stop: StopCheck = _never_stop) -> None:
        self.target = target
        self.should_stop = should_stop
        self._api: TextApi | None = None
        self._phase = "connecting to"

    def __enter__(self) -> RouterClient:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def connect(self) -> None:
        target = self.target
        with self._errors_mapped():
            reason = self.should_stop()
            if reason:
                raise RouterStopped(reason)
            wrapper = _ssl_wrapper(target) if target.tls else None
            connected = create_transport(
                target.host, port=target.port, saddr=None, timeout=target.timeout, ssl_wrapper=wrapper
            )
            transport = PatientTransport(connected.sock, target.timeout, self.should_stop)
            self._api = TextApi(protocol=TextProtocol(transport, target.encoding))
            transport.check_stop()
            self._phase = "logging in to"
            self._login()
            self._phase = "reading from"

    def _login(self) -> None:
        assert self._api is not None
        try:
            rows = list(
                self._api.stream(
                    "/login", f"=name={self.target.username}", f"=password={self.target.password}"
                )
            )
            if rows and "ret" in rows[0]:
                # Pre-6.43 RouterOS answers the plain login with an MD5 challenge.
                response = encode_password(rows[0]["ret"], self.target.password)
                list(self._api.stream("/login", f"=name={self.target.username}", f"=response={response}"))
        except (TrapError, MultiTrapError) as exc:
            raise RouterError(
                "auth", f"login to {self.target.address} as {self.target.username!r} failed: {exc}"
            ) from None
        except UnicodeEncodeError:
            raise RouterError("auth", "the legacy login accepts only ASCII passwords") from None

    def close(self) -> None:
        if self._api is not None:
            api, self._api = self._api, None
            with suppress(OSError):
                api.close()

    def print(self, path: str) -> list[Row]:
        """All rows of `path/print`; UnknownMenu when the router has no such menu."""
        return list(self.rows(path))

    def rows(self, path: str) -> Iterator[Row]:
        """The rows of `path/print` as they arrive, for a caller that works on each while the router
        sends the next; UnknownMenu when the router has no such menu. A reply left unread (the iterator
        closed early) ends the connection: its rest would be read as the next command's answer."""
        if self._api is None:
            raise RouterError("closed", "not connected")
        api = self._api
        try:
            with self._errors_mapped(path):
                try:
                    yield from api.stream(path.rstrip("/") + "/print")
                except (TrapError, MultiTrapError) as exc:
                    if "no such command" in str(exc):
                        raise UnknownMenu(path, str(exc)) from None
                    raise RouterError("trap", f"{path}: the router answered: {exc}") from None
        except GeneratorExit:
            self.close()
            raise

    def identity(self) -> tuple[str, str, float]:
        """(identity, RouterOS version, round-trip seconds of one request)."""
        started = time.perf_counter()
        identity_rows = self.print("/system/identity")
        rtt = time.perf_counter() - started
        resource_rows = self.print("/system/resource")
        identity = identity_rows[0].get("name", "") if identity_rows else ""
        version = resource_rows[0].get("version", "") if resource_rows else ""
        return identity, version, rtt

    @contextmanager
    def _errors_mapped(self, path: str = "") -> Iterator[None]:
        try:
            yield
        except RouterError:
            self.close()
            raise
        except (OSError, LibRouterosError, UnicodeDecodeError, ValueError, IndexError) as exc:
            error = self._describe(exc, f" ({path})" if path else "")
            self.close()
            raise error from None

    def _describe(self, exc: Exception, what: str) -> RouterError:
        where = self.target.address
        if isinstance(exc, socket.gaierror):
            return RouterError("dns", f"cannot resolve host name {self.target.host!r}")
        if isinstance(exc, ConnectionRefusedError):
            return RouterError("refused", f"connection refused by {where}")
        if isinstance(exc, TimeoutError):
            return RouterError(
                "timeout", f"timed out after {self.target.timeout:g} s {self._phase} {where}{what}"
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return RouterError("tls", f"TLS certificate of {where} not trusted: {exc.verify_message}")
        if isinstance(exc, ssl.SSLError):
            return RouterError("tls", f"TLS handshake with {where} failed: {exc.reason or exc}")
        if isinstance(exc, FatalError):
            return RouterError("fatal", f"{where} ended the session{what}: {exc}")
        if isinstance(exc, ConnectionClosed | ConnectionResetError | BrokenPipeError):
            protocol = self._api.protocol if self._api is not None else None
            if self._phase != "reading from" and (protocol is None or protocol.sentences_read == 0):
                # An API-SSL port hangs up on a plain client without a byte: name the likely cause.
                hint = "" if self.target.tls else " (not a RouterOS API, or an API-SSL port that needs TLS)"
                message = f"{where} closed the connection without a RouterOS API reply"
                return RouterError("protocol", message + hint)
            return RouterError("dropped", f"connection to {where} dropped in the middle of a reply{what}")
        if isinstance(exc, OSError):
            return RouterError("network", f"cannot talk to {where}: {exc.strerror or exc}")
        if isinstance(exc, NotRouterOS | ProtocolError | UnicodeDecodeError | ValueError | IndexError):
            return RouterError("protocol", f"{where} is not a RouterOS API ({exc})")
        return RouterError("protocol", f"RouterOS API error from {where}{what}: {exc}")
