"""Shared fixtures: a throw-away POOLIMPORT_HOME with a migrated SQLite database, simulators (plain and
TLS), consumers whose output is kept, the CLI."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError

from poolimport.core import schema
from poolimport.core.access.identity import os_account
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import Settings, load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.models import Operator, Tenant
from poolimport.core.routers.fields import RouterFields
from poolimport.core.routers.records import add_tenant, save_router
from poolimport.core.secrets.box import ensure_key_file
from poolimport.queue.process import spawn_worker, stop_worker
from poolimport.sim import SimServer
from tests.pki import issue_certificates

POSTGRES_URL = os.environ.get(
    "POOLIMPORT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def unavailable(reason: str) -> NoReturn:
    """A server a test needs is missing: skipped on a developer's machine, a failure in CI (CI is set)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a missing server fails the run instead of skipping)")
    pytest.skip(reason)


ADMIN = Scope(operator="tester", tenant_ids=None, role="admin")
PASSWORD = "s3cret-pw"

ROUTER_CONFIG: dict[str, Any] = {
    "identity": "test-router",
    "version": "7.16.2 (stable)",
    "users": [{"name": "admin", "password": PASSWORD}],
    "menus": {
        "/ip/pool": [
            {
                "name": "pppoe",
                "ranges": "100.64.0.2-100.64.0.101",
                "next-pool": "none",
                "comment": "subscribers",
            },
            {"name": "static", "ranges": "10.10.0.0/30,10.10.1.10-10.10.1.11", "next-pool": "pppoe"},
        ],
        "/ip/pool/used": [
            {"pool": "pppoe", "address": "100.64.0.2", "owner": "alice", "info": "pppoe-out1"},
            {"pool": "pppoe", "address": "100.64.0.3", "owner": "bob", "info": "pppoe-out2"},
        ],
        "/ipv6/pool": [{"name": "v6", "prefix": "2001:db8::/120", "prefix-length": "126"}],
        "/ipv6/pool/used": [{"pool": "v6", "prefix": "2001:db8::4/126", "owner": "carol", "info": "dhcpv6"}],
    },
}
EXPECTED_ADDRESSES = 100 + 6 + 64  # pppoe, static, v6 in ROUTER_CONFIG
# A router this slow (a few rows a minute) is still being read whenever a test acts on the job reading it,
# however loaded the machine; the test sets faults.row_delay = 0 if the read must then end. Its router
# needs a timeout above the delay (add_router(..., timeout=60)).
SLOW_ROW_DELAY = 5.0


def router_config(**overrides: Any) -> dict[str, Any]:
    config = copy.deepcopy(ROUTER_CONFIG)
    config.update(overrides)
    return config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("POOLIMPORT_HOME", str(path))
    for name in ("POOLIMPORT_DATABASE_URL", "POOLIMPORT_QUEUE_URL", "POOLIMPORT_OPERATOR"):
        monkeypatch.delenv(name, raising=False)
    # Generous: a job starved of CPU on a loaded machine must not read as stalled (and be retried by a
    # consumer's sweeper). Tests about stalls ask for `fast_heartbeat`.
    monkeypatch.setenv("POOLIMPORT_HEARTBEAT_INTERVAL", "5")
    return path


@pytest.fixture
def fast_heartbeat(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests about stalled jobs: a job whose consumer died reads as stalled after 3 s, not 15 s. The
    processes a test starts see it; ask for it before `settings` if the test's own settings must too."""
    monkeypatch.setenv("POOLIMPORT_HEARTBEAT_INTERVAL", "1")


@pytest.fixture
def settings(home: Path) -> Iterator[Settings]:
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    ensure_key_file(settings.key_file)
    yield settings
    dispose_engines()


def register_me(engine: Engine) -> None:
    """What `poolimport init` does: the account running the tests is the first administrator."""
    with session_scope(engine) as session:
        session.add(Operator(name=os_account(), tenant_id=None, role="admin"))


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = get_engine(settings)
    schema.upgrade(engine)
    register_me(engine)
    return engine


@pytest.fixture
def pg_settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings whose database is a schema of its own on the PostgreSQL server, dropped afterwards."""
    server = create_engine(POSTGRES_URL)
    try:
        with server.connect():
            pass
    except OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_URL}: {str(exc.orig).splitlines()[0]}")
    name = f"pi_{uuid.uuid4().hex[:10]}"
    with server.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    # application_name lets a test find this schema's own backends (to terminate one mid-import).
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{name}&application_name={name}"
    monkeypatch.setenv("POOLIMPORT_DATABASE_URL", url)
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    ensure_key_file(settings.key_file)
    try:
        yield settings
    finally:
        dispose_engines()
        with server.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        server.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_settings(request: pytest.FixtureRequest) -> Settings:
    """The test once on SQLite and once on PostgreSQL."""
    fixture = "settings" if request.param == "sqlite" else "pg_settings"
    return request.getfixturevalue(fixture)


@pytest.fixture
def any_engine(any_settings: Settings) -> Engine:
    engine = get_engine(any_settings)
    schema.upgrade(engine)
    register_me(engine)
    return engine


def menus(**rows: list[dict[str, str]]) -> dict[str, Any]:
    """A router config whose menus are exactly these (keys: ip, ip_used, ipv6, ipv6_used)."""
    paths = {
        "ip": "/ip/pool",
        "ip_used": "/ip/pool/used",
        "ipv6": "/ipv6/pool",
        "ipv6_used": "/ipv6/pool/used",
    }
    config = router_config()
    config["menus"] = {paths[key]: value for key, value in rows.items()}
    for path in paths.values():
        config["menus"].setdefault(path, [])
    return config


@pytest.fixture
def sim_config() -> dict[str, Any]:
    """The router `sim` and `sim_factory()` imitate unless given a config; a directory's conftest may
    override it (tests/sim does)."""
    return router_config()


@pytest.fixture
def sim_factory(sim_config: dict[str, Any]) -> Iterator[Callable[..., SimServer]]:
    """Starts simulators (the config, else `sim_config`; SimServer's options such as tls_cert), stopped
    after the test."""
    started: list[SimServer] = []

    def start(config: dict[str, Any] | None = None, **options: Any) -> SimServer:
        chosen = config if config is not None else copy.deepcopy(sim_config)
        sim = SimServer(chosen, **options).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., SimServer]) -> SimServer:
    return sim_factory()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a server certificate it signed, for localhost and 127.0.0.1."""
    return issue_certificates(tmp_path_factory.mktemp("pki"), ["localhost", "127.0.0.1"])


@pytest.fixture
def tls_sim(sim_factory: Callable[..., SimServer], pki: dict[str, Path]) -> SimServer:
    """`sim`, speaking api-ssl with the `pki` certificate."""
    return sim_factory(tls_cert=pki["cert"], tls_key=pki["key"])


@dataclass
class Consumer:
    """A real `poolimport worker` (or huey_consumer) whose output is kept in `log` for the test to read."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """SIGTERM, the way a supervisor stops it; waits for it to exit (its output is then complete)."""
        stop_worker(self.process)

    def kill(self) -> None:
        """SIGKILL: the consumer dies mid-job, the way a crash or the OOM killer ends it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def start_consumer(home: Path, tmp_path: Path) -> Iterator[Callable[..., Consumer]]:
    """Starts real consumers (spawn_worker's options) in the test's home, each with its output kept in a
    file of tmp_path, where the password scans read it too. Stopped after the test, and their output
    checked for the test password."""
    started: list[Consumer] = []

    def start(workers: int = 1, **options: Any) -> Consumer:
        log = tmp_path / f"consumer-{len(started) + 1}.log"
        with log.open("wb") as output:
            started.append(Consumer(spawn_worker(workers, output, **options), log))
        return started[-1]

    yield start
    for consumer in started:
        consumer.stop()
    for consumer in started:
        assert PASSWORD not in consumer.output(), f"the password is in the output of {consumer.log.name}"


def router_adder(engine: Engine, settings: Settings) -> Callable[..., int]:
    """A function that registers a router (its tenant too, if new) and returns its id."""

    def add(
        sim: SimServer | None = None,
        name: str = "r1",
        tenant: str = "acme",
        password: str = PASSWORD,
        **fields: Any,
    ) -> int:
        with session_scope(engine) as session:
            if session.scalar(select(Tenant).where(Tenant.name == tenant)) is None:
                add_tenant(session, ADMIN, tenant)
            values: dict[str, Any] = {"host": "127.0.0.1", "username": "admin", "timeout": 3.0}
            if sim is not None:
                values["port"] = sim.port
            values.update(fields)
            router = save_router(
                session, ADMIN, settings, tenant, RouterFields(name=name, **values), password
            )
            return router.id

    return add


@pytest.fixture
def add_router(engine: Engine, settings: Settings) -> Callable[..., int]:
    return router_adder(engine, settings)


@pytest.fixture
def any_add_router(any_engine: Engine, any_settings: Settings) -> Callable[..., int]:
    return router_adder(any_engine, any_settings)


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real `poolimport` command in a subprocess, with this process's POOLIMPORT_* environment."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "poolimport.cli", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=full_env,
        timeout=timeout,
    )
