"""A consumer through outages and hangups: one line when the queue or database goes, one when it is back;
closing the terminal it runs in stops it, while a supervisor's SIGHUP still restarts it."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from poolimport.core import schema
from poolimport.core.config import Settings, load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.routers.fields import RouterFields
from poolimport.core.routers.records import add_tenant, save_router
from poolimport.sim import SimServer
from tests.conftest import ADMIN, PASSWORD, Consumer, register_me
from tests.helpers import QUEUE_KEYS, enqueue, wait_for, wait_status
from tests.proxy import TcpProxy

pytestmark = pytest.mark.xdist_group("consumers")

OUTAGE_SECONDS = 8
REDIS_SERVER = ("127.0.0.1", 6379)
REDIS_DB = 12  # only the keys of the queue named "poolimport" are touched, never the whole db
WARNING_LINE = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) ", re.MULTILINE)


class Terminal:
    """A pseudo-terminal whose output is drained (a full one would block the worker's logging);
    hang_up() closes it the way closing a terminal window does."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self._output = bytearray()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def text(self) -> str:
        return self._output.decode("utf-8", errors="replace")

    def _drain(self) -> None:
        while not self._closing.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self._output += os.read(self.master, 65536)
                except OSError:  # every process on the other side is gone
                    break
        os.close(self.master)

    def hang_up(self) -> None:
        self._closing.set()
        self._reader.join(timeout=5)


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    redis = pytest.importorskip("redis")
    client = redis.Redis(*REDIS_SERVER, db=REDIS_DB, socket_connect_timeout=1)
    try:
        client.delete(*QUEUE_KEYS)
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_SERVER[0]}:{REDIS_SERVER[1]}: {exc}")
    proxy = TcpProxy(REDIS_SERVER).start()
    yield proxy
    proxy.stop()
    client.delete(*QUEUE_KEYS)
    client.close()


def assert_one_line_each_way(output: str, what: str) -> None:
    assert "Traceback" not in output, output
    assert output.count(f"{what} unavailable") == 1, output
    assert output.count(f"{what} back") == 1, output
    assert len(WARNING_LINE.findall(output)) <= 3, output


def outage(proxy: TcpProxy, consumer: Consumer, what: str) -> None:
    """Take the server away for OUTAGE_SECONDS, and bring it back once the consumer said it noticed."""
    proxy.stop()
    wait_for(
        lambda: f"{what} unavailable" in consumer.output(), 30, f"the consumer to notice the {what} is gone"
    )
    time.sleep(OUTAGE_SECONDS)  # the outage itself: the consumer must stay quiet through it
    proxy.start()
    wait_for(lambda: f"{what} back" in consumer.output(), 30, f"the consumer to see the {what} back")


def test_redis_going_away_is_one_warning_and_one_recovery_line(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    redis_proxy: TcpProxy,  # before start_consumer: the consumers stop before the proxy does
    start_consumer: Callable[..., Consumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POOLIMPORT_QUEUE_URL", f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_DB}")
    add_router(sim, name="core")
    consumer = start_consumer(workers=2)
    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"

    outage(redis_proxy, consumer, "queue")

    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"
    assert_one_line_each_way(consumer.output(), "queue")


@pytest.fixture
def postgres_proxy(pg_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """The test's PostgreSQL schema (migrated), reached through a proxy the test can take away."""
    real = make_url(pg_settings.database_url)
    proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432)).start()
    through = real.set(host="127.0.0.1", port=proxy.port)
    monkeypatch.setenv("POOLIMPORT_DATABASE_URL", through.render_as_string(hide_password=False))
    schema.upgrade(get_engine(load_settings()))
    register_me(get_engine(load_settings()))
    yield proxy
    proxy.stop()
    dispose_engines()


def test_database_going_away_is_one_warning_and_one_recovery_line(
    postgres_proxy: TcpProxy, sim: SimServer, start_consumer: Callable[..., Consumer]
) -> None:
    settings = load_settings()
    with session_scope(get_engine(settings)) as session:
        add_tenant(session, ADMIN, "acme")
        save_router(
            session,
            ADMIN,
            settings,
            "acme",
            RouterFields(name="core", host="127.0.0.1", port=sim.port, username="admin"),
            PASSWORD,
        )
    dispose_engines()  # this process holds no connection through the outage
    consumer = start_consumer(workers=2)
    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"

    outage(postgres_proxy, consumer, "database")

    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"
    assert_one_line_each_way(consumer.output(), "database")


def test_closing_the_terminal_stops_the_worker(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], start_consumer: Callable[..., Consumer]
) -> None:
    add_router(sim, name="core")
    terminal = Terminal()
    worker = start_consumer(terminal=terminal.slave).process
    os.close(terminal.slave)  # the worker holds the only other end, as in a real terminal
    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"

    terminal.hang_up()

    try:
        worker.wait(timeout=20)
    except Exception:
        pytest.fail(f"the worker outlived its terminal; it said:\n{terminal.text()}")
    assert worker.returncode == 0, "the worker did not shut down cleanly"  # not killed by the signal


def test_sighup_without_a_terminal_restarts_the_worker(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], start_consumer: Callable[..., Consumer]
) -> None:
    add_router(sim, name="core")
    consumer = start_consumer(detach=True)  # its own session, no terminal: how a supervisor runs it
    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"

    consumer.process.send_signal(signal.SIGHUP)

    wait_for(lambda: consumer.output().count("Huey consumer started") == 2, 30, "the worker to restart")
    assert consumer.process.poll() is None
    assert wait_status(enqueue("core"), ("succeeded",)) == "succeeded"
    assert "Traceback" not in consumer.output()
