"""Whatever the operator types or points the command at, the answer is one `error:` line, never a traceback.

Every case runs the real `poolimport` command in a subprocess; the data cases check the stored rows are
untouched afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text

from poolimport.core.db import session_scope
from poolimport.core.models import ImportJob, IpPool, JobEvent, PoolAddress, Router, utcnow
from poolimport.sim import SimServer
from tests.conftest import PASSWORD, router_config, run_cli

Result = subprocess.CompletedProcess[str]
TABLES = ("tenants", "operators", "routers", "import_jobs", "job_events", "ip_pools", "pool_addresses")
BEYOND_64_BITS = "99999999999999999999"
ESC, BEL = "\x1b", "\x07"


def one_error(result: Result, message: str) -> str:
    """Non-zero exit, no traceback, and exactly one `error: ...` line on stderr, containing `message`."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert message in errors[0], result.stderr
    return errors[0]


def stored(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in TABLES
        }


@pytest.fixture
def router_id(add_router: Callable[..., int]) -> int:
    return add_router(name="r1")


# -- ids and counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [("job", "show"), ("logs",), ("logs", "--follow"), ("cancel",), ("retry",)]
)
def test_a_job_id_beyond_64_bits_is_refused_at_the_command_line(
    engine: Engine, router_id: int, command: tuple[str, ...]
) -> None:
    before = stored(engine)
    result = run_cli(*command, BEYOND_64_BITS)
    assert result.returncode == 2
    one_error(result, f"invalid job id {BEYOND_64_BITS!r}")
    assert stored(engine) == before


@pytest.mark.parametrize("value", ["0", "-1", "abc", "9223372036854775808"])
def test_a_job_id_must_be_a_positive_64_bit_number(engine: Engine, value: str) -> None:
    one_error(run_cli("job", "show", value), "a whole number from 1 to 9223372036854775807")


def test_the_largest_job_id_is_looked_up(engine: Engine) -> None:
    one_error(run_cli("job", "show", "9223372036854775807"), "no job #9223372036854775807")


def test_a_router_id_beyond_64_bits_is_just_not_found(engine: Engine, router_id: int) -> None:
    one_error(run_cli("pools", BEYOND_64_BITS), f"no router '{BEYOND_64_BITS}'")


@pytest.mark.parametrize("ref", ["²", "1²", "①"])
def test_a_router_named_in_digit_like_characters_is_just_not_found(engine: Engine, ref: str) -> None:
    one_error(run_cli("pools", ref), f"no router '{ref}'")


@pytest.mark.parametrize("command", [("jobs",), ("failed",), ("addresses", "r1", "p")])
def test_a_limit_beyond_64_bits_is_refused(engine: Engine, router_id: int, command: tuple[str, ...]) -> None:
    one_error(run_cli(*command, "--limit", BEYOND_64_BITS), "--limit")


def test_retry_with_two_ids_says_it_takes_one(engine: Engine, router_id: int) -> None:
    result = run_cli("retry", "1", "2")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: poolimport retry"), result.stderr
    one_error(result, "1 argument too many")


# -- output into a closed pipe -------------------------------------------------------------------------

MANY = 3000


@pytest.fixture
def many_rows(engine: Engine, router_id: int) -> None:
    """Enough rows that every list below overflows a pipe buffer many times over."""
    now = utcnow()
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        session.execute(
            insert(Router),
            [
                {
                    "tenant_id": router.tenant_id,
                    "name": f"bulk-{n:05}",
                    "host": "192.0.2.1",
                    "port": 8728,
                    "username": "api",
                    "password_encrypted": router.password_encrypted,
                }
                for n in range(MANY)
            ],
        )
        session.execute(
            insert(ImportJob),
            [
                {
                    "router_id": router_id,
                    "tenant_id": router.tenant_id,
                    "requested_by": "tester",
                    "status": "failed",
                    "queued_at": now,
                    "finished_at": now,
                    "error": "the router said no",
                }
                for _ in range(MANY)
            ],
        )
        first_job = session.scalar(select(ImportJob.id).order_by(ImportJob.id))
        session.execute(
            insert(JobEvent),
            [{"job_id": first_job, "level": "info", "message": f"event {n}"} for n in range(MANY)],
        )
        pool = IpPool(router_id=router_id, name="big", family=4, ranges="10.0.0.0/20", total=4096)
        session.add(pool)
        session.flush()
        session.execute(
            insert(PoolAddress),
            [
                {
                    "pool_id": pool.id,
                    "sort_key": f"{n:032x}",
                    "address": f"10.0.{n // 256}.{n % 256}",
                    "status": "free",
                }
                for n in range(4096)
            ],
        )


@pytest.mark.parametrize(
    "command",
    [
        ("jobs", "--limit", str(MANY)),
        ("jobs", "--json", "--limit", str(MANY)),
        ("failed", "--limit", str(MANY)),
        ("router", "list"),
        ("addresses", "r1", "big"),
        ("logs", "1"),
    ],
    ids=lambda command: "-".join(command),
)
@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_a_list_piped_into_head_stops_quietly(
    many_rows: None, tmp_path: Path, command: tuple[str, ...], unbuffered: str
) -> None:
    errors = tmp_path / "stderr"
    script = 'set -o pipefail; "$@" 2>"$POOLIMPORT_TEST_STDERR" | head -1'
    env = {**os.environ, "POOLIMPORT_TEST_STDERR": str(errors), "PYTHONUNBUFFERED": unbuffered}
    result = subprocess.run(
        ["bash", "-c", script, "bash", sys.executable, "-m", "poolimport.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert errors.read_text() == ""
    assert len(result.stdout.splitlines()) == 1
    # What the shell reports for any tool stopped by a closed pipe (128 + SIGPIPE).
    assert result.returncode == 141


# -- database and queue URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("mysql://user@127.0.0.1/poolimport", "mysql"),
        ("mysql+pymysql://user@127.0.0.1/poolimport", "mysql+pymysql"),
        ("postgresql+nosuchdriver://user@127.0.0.1/test", "postgresql+nosuchdriver"),
        ("nosuchdb://user@127.0.0.1/test", "nosuchdb"),
    ],
)
def test_a_database_url_without_its_driver_is_one_line(home: Path, url: str, driver: str) -> None:
    result = run_cli("jobs", env={"POOLIMPORT_DATABASE_URL": url})
    one_error(result, f"database driver for {driver} is not installed")


@pytest.mark.parametrize("command", [("jobs",), ("init",)])
def test_a_database_in_a_missing_folder_is_refused_and_the_folder_not_created(
    home: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    folder = tmp_path / "no-such-folder"
    result = run_cli(*command, env={"POOLIMPORT_DATABASE_URL": f"sqlite:///{folder / 'pools.db'}"})
    one_error(result, f"database folder {folder} does not exist")
    assert not folder.exists()


def test_a_queue_in_a_missing_folder_fails_the_import_and_creates_nothing(
    engine: Engine, router_id: int, tmp_path: Path
) -> None:
    folder = tmp_path / "no-such-folder"
    bad_queue = {"POOLIMPORT_QUEUE_URL": f"sqlite:///{folder / 'queue.db'}"}
    before = stored(engine)
    for _attempt in range(2):  # the second is refused for the same reason, not "router busy"
        result = run_cli("import", "r1", env=bad_queue)
        one_error(result, f"queue folder {folder} does not exist")
        assert "queued" not in result.stdout
        assert not folder.exists()
        assert stored(engine) == before
    # The router is free: with a queue that exists the import is queued.
    assert run_cli("import", "r1").stdout.strip().startswith("job #")


def test_an_unreachable_queue_fails_the_import_and_leaves_no_job(engine: Engine, router_id: int) -> None:
    """The job row is written before the queue is asked; when the queue fails, the row goes again."""
    down = {"POOLIMPORT_QUEUE_URL": "redis://127.0.0.1:1/0"}
    before = stored(engine)
    for _attempt in range(2):
        one_error(run_cli("import", "r1", env=down), "queue unreachable")
        assert stored(engine) == before


# -- routers: hosts and lengths ------------------------------------------------------------------------


def add_router_cli(name: str, host: str = "192.0.2.1", *extra: str, password: str = PASSWORD) -> Result:
    return run_cli(
        "router", "add", name, "--tenant", "acme", "--host", host, "--username", "api", "--password-stdin",
        *extra, stdin=password + "\n",
    )  # fmt: skip


@pytest.mark.parametrize(
    "host",
    [
        "not a host!!",
        "10.0.0.1/24",
        "",
        " ",
        "192.0.2.1 ",
        "h" * 300,
        "-leading-dash.example.net",
        "999.1.1.1",
        "under_score.example",
        "[2001:db8::1]",
    ],
)
def test_a_router_host_must_be_an_address_or_a_host_name(engine: Engine, router_id: int, host: str) -> None:
    before = stored(engine)
    one_error(add_router_cli("bad", host), "host")
    assert stored(engine) == before


@pytest.mark.parametrize("host", ["192.0.2.1", "2001:db8::1", "router-1.example.net", "localhost"])
def test_addresses_and_host_names_are_accepted(engine: Engine, router_id: int, host: str) -> None:
    result = add_router_cli("good", host)
    assert result.returncode == 0, result.stderr
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT host FROM routers WHERE name = 'good'")) == host


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("n" * 101,), "router name is too long: 101 characters, at most 100"),
        (
            ("ok", "192.0.2.1", "--tls", "--ca-file", "c" * 1001),
            "CA file path is too long: 1001 characters, at most 1000",
        ),
        (("ok\x1b[2J",), "router name must not contain control characters"),
    ],
)
def test_router_fields_have_limits(
    engine: Engine, router_id: int, args: tuple[str, ...], message: str
) -> None:
    before = stored(engine)
    one_error(add_router_cli(*args), message)
    assert stored(engine) == before


def test_passwords_and_user_names_have_limits(engine: Engine, router_id: int) -> None:
    before = stored(engine)
    one_error(
        add_router_cli("long-pw", password="p" * 257), "password is too long: 257 characters, at most 256"
    )
    long_user = run_cli(
        "router", "add", "long-user", "--tenant", "acme", "--host", "192.0.2.1", "--username", "u" * 101,
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    one_error(long_user, "username is too long: 101 characters, at most 100")
    assert stored(engine) == before
    assert add_router_cli("n" * 100, password="p" * 256).returncode == 0


def test_tenant_and_operator_names_have_limits(engine: Engine, router_id: int) -> None:
    before = stored(engine)
    one_error(run_cli("tenant", "add", "t" * 101), "tenant name is too long: 101 characters, at most 100")
    one_error(run_cli("operator", "add", "o" * 101), "operator name is too long: 101 characters, at most 100")
    assert stored(engine) == before


# -- router text on the operator's terminal ------------------------------------------------------------

HOSTILE = f"{ESC}]0;pwned{BEL}invalid user name or password{ESC}[2J (6)"


def test_router_test_never_prints_the_routers_escape_sequences(
    engine: Engine, sim_factory: Callable[..., SimServer], add_router: Callable[..., int]
) -> None:
    sim = sim_factory(router_config(login_error=HOSTILE))
    add_router(sim, name="hostile", password="not-the-password")
    result = run_cli("router", "test", "hostile")
    line = one_error(result, "invalid user name or password")
    assert "pwned" in line  # the text is kept, its control characters are not
    listing = run_cli("router", "list")
    as_json = run_cli("router", "list", "--json")
    for output in (result.stdout, result.stderr, listing.stdout, as_json.stdout):
        assert ESC not in output and BEL not in output


def test_stored_names_with_escapes_are_printed_clean(engine: Engine, router_id: int) -> None:
    """Rows written before names were checked (or by another tool) still reach the terminal clean."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE routers SET name = :name"), {"name": f"r1{ESC}[2J{ESC}]0;x{BEL}\x9b1m"})
    listing = run_cli("router", "list", "--json")
    removed = run_cli("router", "remove", "1", "--yes")
    assert removed.returncode == 0, removed.stderr
    for output in (listing.stdout, removed.stdout, removed.stderr):
        assert not any(char in output for char in (ESC, BEL, "\x9b"))


def test_a_schedule_for_a_tenant_without_routers_is_refused_not_a_silent_nothing(engine: Engine) -> None:
    assert run_cli("tenant", "add", "empty").returncode == 0
    one_error(run_cli("schedule", "set", "--tenant", "empty", "1m"), "tenant 'empty' has no routers yet")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (("import",), "name a router, or pass --all"),
        (("retry",), "give a job id, or --all-failed"),
        (("flush",), "say what to flush: --stuck"),
        (("schedule", "set", "1m"), "name a router, or give --tenant for all of its routers"),
    ],
)
def test_a_command_missing_what_it_needs_is_a_usage_error(
    engine: Engine, words: tuple[str, ...], message: str
) -> None:
    result = run_cli(*words)
    one_error(result, message)
    assert result.returncode == 2, "a usage error, as argparse's own"
