"""A TCP proxy a test can take away and bring back (a server going away, as its clients see it), or freeze
and thaw (a server, or the network to it, that stops answering while every connection stays open)."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable


class TcpProxy:
    """Forwards a local port to a server. stop() is the server going away: the listener and every
    connection close, so clients see refused connects until start() listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._stopped = threading.Event()
        self._thawed = threading.Event()
        self._thawed.set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._stopped = threading.Event()
        self._spawn(self._accept, listener, self._stopped)
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._sockets.clear()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def freeze(self) -> None:
        """Nothing more is forwarded either way; what is sent waits in the sockets' buffers."""
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket, stopped: threading.Event) -> None:
        with listener:
            while not stopped.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                with self._lock:
                    self._sockets |= {client, upstream}
                self._spawn(self._pump, client, upstream, stopped)

    def _pump(self, client: socket.socket, upstream: socket.socket, stopped: threading.Event) -> None:
        peer = {client: upstream, upstream: client}
        with client, upstream:
            while not stopped.is_set():
                if not self._thawed.wait(0.1):
                    continue
                ready, _, _ = select.select(list(peer), [], [], 0.1)
                for sock in ready:
                    try:
                        data = sock.recv(65536)
                        if not data:
                            return
                        peer[sock].sendall(data)
                    except OSError:
                        return
