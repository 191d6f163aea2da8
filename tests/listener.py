"""A plain TCP server that records every byte it is sent and never answers: the endpoint a stored router
password must never reach. Tests point a router at it and assert what it received."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

ACCEPT_WAIT = 0.1
READER_JOIN = 10.0


class RecordingListener:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = socket.create_server((host, port))
        self._server.settimeout(ACCEPT_WAIT)
        self.host, self.port = self._server.getsockname()[:2]
        self.connections = 0
        self._chunks: list[bytes] = []
        self._clients: list[socket.socket] = []
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="recording-listener", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            reader = threading.Thread(target=self._read, args=(client,), daemon=True)
            with self._lock:
                self.connections += 1
                self._clients.append(client)
                self._readers.append(reader)
            reader.start()

    def _read(self, client: socket.socket) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._chunks.append(data)

    def received(self) -> bytes:
        """Everything sent to it, once each client has hung up (a client that stays is waited for a while)."""
        with self._lock:
            readers = list(self._readers)
        for reader in readers:
            reader.join(READER_JOIN)
        with self._lock:
            return b"".join(self._chunks)

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(READER_JOIN)
        self._server.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def __enter__(self) -> RecordingListener:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
