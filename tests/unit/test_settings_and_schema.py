"""Settings precedence, the schema check every command makes, and the key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poolimport.core import schema
from poolimport.core.config import ConfigError, load_settings, sqlite_queue_file
from poolimport.core.db import make_engine
from poolimport.core.secrets.box import SecretBox, SecretError, ensure_key_file


def test_env_wins_over_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('job_time_limit = 30\nqueue_url = "redis://q:6379/0"\n')
    settings = load_settings({"POOLIMPORT_HOME": str(tmp_path), "POOLIMPORT_JOB_TIME_LIMIT": "45"})
    assert settings.job_time_limit == 45.0
    assert settings.queue_url == "redis://q:6379/0"
    assert settings.database_url == f"sqlite:///{tmp_path / 'poolimport.db'}"
    assert settings.key_file == tmp_path / "secret.key"


def test_the_keymap_table_keeps_dotted_ids_and_no_variable_sets_it(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[keymap]\nimport = "j,ctrl+i"\npools.back = "b"\n')
    settings = load_settings({"POOLIMPORT_HOME": str(tmp_path), "POOLIMPORT_KEYMAP": "x"})
    assert settings.keymap == (("import", "j,ctrl+i"), ("pools.back", "b"))


def test_default_home_is_the_xdg_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"XDG_DATA_HOME": str(tmp_path)})
    assert settings.home == tmp_path / "poolimport"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("job_time_limit = 'soon'\n", "job_time_limit must be a number"),
        ("batch_size = 0\n", "batch_size must be greater than 0"),
        ("colour = 'blue'\n", "unknown setting(s)"),
        ("not toml at all [\n", "cannot read"),
        ("keymap = 'j'\n", "keymap in .* must be a table"),
        ("[keymap]\nimport = 7\n", "import takes keys such as"),
        ("[keymap]\nimport = 'j,'\n", "import takes keys such as"),
    ],
)
def test_bad_settings_are_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(content)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({"POOLIMPORT_HOME": str(tmp_path)})


def test_head_revision_constant_matches_alembic() -> None:
    assert schema.alembic_head() == schema.HEAD_REVISION


def test_schema_missing_then_created_then_current(tmp_path: Path) -> None:
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(schema.SchemaNotReady, match="run `poolimport init`"):
        schema.ensure_current(engine)
    assert schema.upgrade(engine) == (None, schema.HEAD_REVISION)
    assert schema.upgrade(engine) == (schema.HEAD_REVISION, schema.HEAD_REVISION)
    schema.ensure_current(engine)
    engine.dispose()


def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    assert ensure_key_file(key) is True
    assert ensure_key_file(key) is False
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    box = SecretBox(key)
    token = box.encrypt("hunter2")
    assert b"hunter2" not in token
    assert box.decrypt(token) == "hunter2"


def test_wrong_key_says_so_without_the_secret(tmp_path: Path) -> None:
    first, second = tmp_path / "a.key", tmp_path / "b.key"
    ensure_key_file(first)
    ensure_key_file(second)
    token = SecretBox(first).encrypt("hunter2")
    with pytest.raises(SecretError) as caught:
        SecretBox(second).decrypt(token)
    assert "hunter2" not in str(caught.value) and token.decode() not in str(caught.value)
    with pytest.raises(SecretError, match="missing: run `poolimport init`"):
        SecretBox(tmp_path / "nope.key")


def test_upgrade_from_0001_backfills_pool_counts(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = schema._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    statements = [
        "INSERT INTO tenants (id, name, created_at) VALUES (1, 't', '2026-01-01')",
        "INSERT INTO routers (id, tenant_id, name, host, port, tls, tls_verify, username,"
        " password_encrypted, encoding, timeout, created_at)"
        " VALUES (1, 1, 'r', 'h', 8728, 0, 1, 'u', x'00', 'utf-8', 10, '2026-01-01')",
        "INSERT INTO ip_pools (id, router_id, name, family, ranges, total, expanded, status, first_seen,"
        " last_seen) VALUES (1, 1, 'p', 4, '10.0.0.1-10.0.0.3', 3, 1, 'active', '2026-01-01', '2026-01-01')",
    ] + [
        "INSERT INTO pool_addresses (pool_id, sort_key, address, status)"
        f" VALUES (1, '{n:08x}', '10.0.0.{n}', '{status}')"
        for n, status in enumerate(("used", "free", "free"), start=1)
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    assert schema.upgrade(engine) == ("0001", schema.HEAD_REVISION)
    with engine.connect() as conn:
        counts = conn.execute(text("SELECT used_count, free_count, stale_count FROM ip_pools")).one()
    assert tuple(counts) == (1, 2, 0)
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///queue.db"])
def test_a_queue_that_only_this_process_or_folder_would_see_is_refused(url: str) -> None:
    """A relative or in-memory queue would take jobs that no consumer elsewhere ever sees."""
    with pytest.raises(ConfigError, match="absolute path"):
        sqlite_queue_file(url)
