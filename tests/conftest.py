"""Shared fixtures: a throw-away POOLIMPORT_HOME with a migrated SQLite database, simulators, the CLI."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError

from poolimport.core import schema
from poolimport.core.config import Settings, load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.identity import os_account
from poolimport.core.models import Operator, Tenant
from poolimport.core.routers import RouterFields, add_tenant, save_router
from poolimport.core.secrets import ensure_key_file
from poolimport.core.tenancy import Scope
from poolimport.sim import SimServer

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
    monkeypatch.setenv("POOLIMPORT_HEARTBEAT_INTERVAL", "0.5")
    return path


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


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimServer]]:
    started: list[SimServer] = []

    def start(config: dict[str, Any] | None = None) -> SimServer:
        sim = SimServer(config if config is not None else router_config(), port=0).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., SimServer]) -> SimServer:
    return sim_factory()


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
