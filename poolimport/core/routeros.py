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
from librouteros.protocol import ApiProtocol, decode_length, determine_length

from poolimport.core.errors import PoolimportError

REPLY_WORDS = frozenset({"!re", "!done", "!trap", "!fatal", "!empty"})
# A field name RouterOS never uses (its own dot-names are .id, .tag, .nextid): lists the
# attributes whose bytes did not decode in the router's encoding.
UNDECODABLE = ".undecodable"
MAX_WORD_BYTES = 16 * 1024 * 1024
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
    under its timeout, can't hold the caller. The router is given up after `timeout` without a byte."""

    def __init__(self, sock: socket.socket, timeout: float, should_stop: StopCheck) -> None:
        super().__init__(sock)
        self.timeout = timeout
        self.should_stop = should_stop
        self._next_check = 0.0
        sock.settimeout(min(WAIT_SLICE, timeout))

    def write(self, data: bytes) -> None:
        # sendall may have sent part of the data when it times out: a write waits the whole timeout at once.
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.settimeout(min(WAIT_SLICE, self.timeout))

    def read(self, length: int) -> bytes:
        data = bytearray()
        now = last_byte = time.monotonic()
        while (missing := length - len(data)) > 0:
            self._check_stop(now)
            try:
                got = self.sock.recv(missing)
            except TimeoutError:
                now = time.monotonic()
                if now - last_byte >= self.timeout:
                    self._check_stop(now)  # a stop asked for meanwhile is the better reason
                    raise
                continue
            if not got:
                raise ConnectionClosed("Connection unexpectedly closed.")
            data += got
            now = last_byte = time.monotonic()
        return bytes(data)

    def check_stop(self) -> None:
        self._next_check = 0.0
        self._check_stop(time.monotonic())

    def _check_stop(self, now: float) -> None:
        # Reads come word by word, thousands a second from a fast router: ask once per slice at most.
        if now < self._next_check:
            return
        self._next_check = now + WAIT_SLICE
        reason = self.should_stop()
        if reason:
            raise RouterStopped(reason)


class TextProtocol(ApiProtocol):
    """Decodes in the router's encoding and reports undecodable bytes instead of dropping them."""

    def __init__(self, transport: object, encoding: str) -> None:
        super().__init__(transport=transport, encoding=encoding)
        self.sentences_read = 0
        self.bad_fields: list[str] = []

    def readWord(self) -> str:  # noqa: N802 - librouteros' name
        first = self.transport.read(1)
        if first == b"\x00":
            return ""
        head = first + self.transport.read(determine_length(first))
        length = decode_length(head)
        if length > MAX_WORD_BYTES:
            raise NotRouterOS(f"a word of {length} bytes")
        raw = self.transport.read(length)
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError:
            text = raw.decode(self.encoding, errors="replace")
            self.bad_fields.append(text.lstrip("=").split("=", 1)[0])
            return text

    def readSentence(self) -> tuple[str, tuple[str, ...]]:  # noqa: N802
        self.bad_fields = []
        reply, words = super().readSentence()
        if reply not in REPLY_WORDS:
            raise NotRouterOS(f"unexpected reply {reply[:40]!r}")
        self.sentences_read += 1
        return reply, words


class TextApi(Api):
    """Keeps every value as the router's text: librouteros would turn "100" into 100 and "yes" into True."""

    protocol: TextProtocol

    def readSentence(self) -> tuple[str, dict[str, str]]:  # noqa: N802
        reply, words = self.protocol.readSentence()
        row: Row = {}
        for word in words:
            key, _, value = word.lstrip("=").partition("=")
            row[key] = value
        if self.protocol.bad_fields and reply == "!re":  # a !trap's words become TrapError(**words)
            row[UNDECODABLE] = ",".join(self.protocol.bad_fields)
        return reply, row


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
                self._api.rawCmd(
                    "/login", f"=name={self.target.username}", f"=password={self.target.password}"
                )
            )
            if rows and "ret" in rows[0]:
                # Pre-6.43 RouterOS answers the plain login with an MD5 challenge.
                response = encode_password(rows[0]["ret"], self.target.password)
                list(self._api.rawCmd("/login", f"=name={self.target.username}", f"=response={response}"))
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
        if self._api is None:
            raise RouterError("closed", "not connected")
        with self._errors_mapped(path):
            try:
                return list(self._api.rawCmd(path.rstrip("/") + "/print"))
            except (TrapError, MultiTrapError) as exc:
                if "no such command" in str(exc):
                    raise UnknownMenu(path, str(exc)) from None
                raise RouterError("trap", f"{path}: the router answered: {exc}") from None

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
