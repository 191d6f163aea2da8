"""Database and queue URLs are shown with their password masked, in every message, output and title."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poolimport.core.config import Settings, masked_url
from poolimport.sim import SimServer
from poolimport.tui.data import Data
from tests.conftest import run_cli

SECRET = "t0p-s3cret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql+psycopg://pi:{SECRET}@db.example/pools",
            "postgresql+psycopg://pi:***@db.example/pools",
        ),
        (f"redis://:{SECRET}@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        (f"rediss://queue:{SECRET}@10.0.0.5/1", "rediss://queue:***@10.0.0.5/1"),
        (f"unix://:{SECRET}@/run/redis.sock?db=2", "unix://:***@/run/redis.sock?db=2"),
        (
            f"postgresql://pi@db/pools?sslmode=require&password={SECRET}",
            "postgresql://pi@db/pools?sslmode=require&password=***",
        ),
        (f"redis://10.0.0.5:6379/0?password={SECRET}", "redis://10.0.0.5:6379/0?password=***"),
        (f"postgresql://pi:{SECRET}@x@db/pools", "postgresql://pi:***@db/pools"),  # an unescaped @ in it
        (f"postgresql+psycopg://pi:{SECRET}@db:port/pools", "postgresql+psycopg://pi:***@db:port/pools"),
        ("sqlite:////var/lib/poolimport/a@b.db", "sqlite:////var/lib/poolimport/a@b.db"),
        ("redis://10.0.0.5:6379/0", "redis://10.0.0.5:6379/0"),
    ],
)
def test_masked_url_hides_the_password_of_database_and_queue_urls(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def assert_masked(result: object, *expected: str) -> str:
    stdout, stderr = result.stdout, result.stderr  # type: ignore[attr-defined]
    text = stdout + stderr
    assert SECRET not in text and "Traceback" not in text, text
    for part in expected:
        assert part in text, text
    return str(text)


def test_init_shows_the_database_url_masked(pg_settings: Settings) -> None:
    url = pg_settings.database_url.replace("postgres@", f"postgres:{SECRET}@", 1)
    assert SECRET in url
    result = run_cli("init", env={"POOLIMPORT_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert_masked(result, "in postgresql+psycopg://postgres:***@127.0.0.1")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"postgresql+psycopg://pi:{SECRET}@127.0.0.1:port/pools", "invalid database URL"),
        (f"postgresql+psycopg://pi:{SECRET}@127.0.0.1:1/pools", "database unavailable"),
        (f"nosuchdb://pi:{SECRET}@127.0.0.1/pools", "database driver for nosuchdb"),
    ],
    ids=["invalid", "unreachable", "no-driver"],
)
def test_database_errors_never_show_the_password(home: Path, url: str, message: str) -> None:
    for args in (("init",), ("router", "list")):
        result = run_cli(*args, env={"POOLIMPORT_DATABASE_URL": url})
        assert result.returncode == 1
        assert_masked(result, message)


def test_queue_errors_and_the_tui_never_show_the_password(
    engine: Engine, settings: Settings, sim: SimServer, add_router: object
) -> None:
    add_router(sim, name="core")  # type: ignore[operator]
    unreachable = f"redis://:{SECRET}@127.0.0.1:1/0"
    assert_masked(run_cli("import", "core", env={"POOLIMPORT_QUEUE_URL": unreachable}), "queue unreachable")
    worker = run_cli("worker", "-w", "1", env={"POOLIMPORT_QUEUE_URL": unreachable}, timeout=30)
    assert worker.returncode == 1
    assert_masked(worker, "error: queue unreachable at redis://:***@127.0.0.1:1/0:")
    unsupported = f"amqp://pi:{SECRET}@127.0.0.1/"
    assert_masked(run_cli("import", "core", env={"POOLIMPORT_QUEUE_URL": unsupported}), "amqp://pi:***@")

    problem = Data(replace(settings, queue_url=unreachable)).queue_problem()
    assert problem is not None and SECRET not in problem
