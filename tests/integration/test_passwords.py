"""A stored router password goes only to the endpoint it was entered for, and survives the key file's life:
lost (init refuses to start over unasked), replaced on purpose (`init --new-key`), rotated (`key rotate`).

The attacks point a router at a RecordingListener, a plain TCP server that records every byte it is sent,
without giving the password again; the listener must never see the stored one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select, update

from poolimport.core.access.audit import REFUSED, audit_rows
from poolimport.core.access.identity import Identity
from poolimport.core.access.operators import add_operator
from poolimport.core.access.tenancy import AccessDenied, Scope
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.errors import InvalidInput
from poolimport.core.models import ImportJob, Router
from poolimport.core.routers.fields import fields_of
from poolimport.core.routers.records import save_router
from poolimport.core.secrets.box import ensure_key_file
from poolimport.core.secrets.keys import rotate_key
from poolimport.sim import SimServer
from poolimport.tui.data import Data
from tests.conftest import ADMIN, PASSWORD, router_config
from tests.integration.test_cli import Result, as_json, fails, here, ok, outputs
from tests.listener import RecordingListener

__all__ = ["here", "outputs"]  # fixtures shared with the module they come from

NEEDS_PASSWORD = "needs its password again"


def stored_router(engine: Engine, name: str) -> Router:
    with session_scope(engine) as session:
        router = session.scalar(select(Router).where(Router.name == name))
        assert router is not None
        session.expunge(router)
        return router


def endpoint(router: Router) -> tuple[Any, ...]:
    return (router.host, router.port, router.username, router.tls, router.tls_verify, router.ca_file)


def audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        return [row for row in audit_rows(session, ADMIN) if row["action"] == action]


def tokens(engine: Engine) -> dict[str, bytes]:
    with engine.connect() as conn:
        return {name: token for name, token in conn.execute(select(Router.name, Router.password_encrypted))}


# -- changing where a router is needs its password -----------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"host": "127.0.0.2"},
        {"port": 1},
        {"username": "someone-else"},
        {"tls": True},
        {"tls_verify": False},
        {"ca_file": "/etc/ssl/attacker-ca.pem"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_core_refuses_an_endpoint_change_without_the_password(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int], change: dict[str, Any]
) -> None:
    add_router(sim, name="core")
    before = stored_router(engine, "core")
    with pytest.raises(InvalidInput, match=NEEDS_PASSWORD), session_scope(engine) as session:
        router = session.get(Router, before.id)
        assert router is not None
        save_router(session, ADMIN, settings, "acme", replace(fields_of(router), **change), None, router)
    after = stored_router(engine, "core")
    assert endpoint(after) == endpoint(before)
    assert after.password_encrypted == before.password_encrypted


def test_core_keeps_the_password_for_changes_that_do_not_move_the_router(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    with session_scope(engine) as session:
        router = session.scalar(select(Router).where(Router.name == "core"))
        assert router is not None
        # The port typed out is the one stored: not a change.
        fields = replace(fields_of(router), name="core-2", timeout=7.0, port=sim.port)
        save_router(session, ADMIN, settings, "acme", fields, None, router)
    assert (stored_router(engine, "core-2").timeout, stored_router(engine, "core-2").port) == (7.0, sim.port)
    assert [row["subject"] for row in audit(engine, "router.edit")] == ["core-2"]


def test_router_edit_towards_a_listener_without_the_password_is_refused_and_nothing_reaches_it(
    engine: Engine, sim: SimServer, add_router: Callable[..., int], here: Callable[..., Result]
) -> None:
    add_router(sim, name="core")
    before = stored_router(engine, "core")
    # One listener on another port, one on another address at the router's own port: a port and a host change.
    with RecordingListener() as other_port, RecordingListener("127.0.0.2", sim.port) as other_host:
        attempts = [
            ("--port", str(other_port.port)),
            ("--host", "127.0.0.2"),
            ("--username", "someone-else"),
            ("--tls",),
            ("--tls", "--tls-insecure"),
            ("--tls", "--ca-file", "/etc/ssl/attacker-ca.pem"),
        ]
        for attempt in attempts:
            fails(here("router", "edit", "core", *attempt), NEEDS_PASSWORD)
        # Whatever the attempts did, the router is still the one its password was entered for.
        assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True
        ok(here("import", "core", "--sync"))
        for listener in (other_port, other_host):
            assert PASSWORD.encode() not in listener.received()
            assert listener.connections == 0
    assert endpoint(stored_router(engine, "core")) == endpoint(before)
    refusals = audit(engine, "router.edit")
    assert len(refusals) == len(attempts)
    assert all(row["outcome"] == REFUSED and NEEDS_PASSWORD in row["detail"] for row in refusals)
    assert all(row["router_id"] == before.id and PASSWORD not in str(row) for row in refusals)


def test_with_the_password_the_edit_moves_the_router_and_only_that_password_goes_there(
    engine: Engine,
    sim: SimServer,
    sim_factory: Callable[..., SimServer],
    add_router: Callable[..., int],
    here: Callable[..., Result],
) -> None:
    add_router(sim, name="core")
    moved = sim_factory(router_config(users=[{"name": "admin", "password": "n3w-pw"}]))
    ok(here("router", "edit", "core", "--port", str(moved.port), "--password-stdin", stdin="n3w-pw\n"))
    assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True
    assert moved.logins == [("admin", True)]

    with RecordingListener() as listener:
        edit = ("router", "edit", "core", "--port", str(listener.port), "--password-env", "PI_PW")
        ok(here(*edit, env={"PI_PW": "typed-for-the-listener"}))
        fails(here("router", "test", "core"), "core: ")  # it never answers
        received = listener.received()
    assert b"typed-for-the-listener" in received  # it got what was typed for it, and nothing else
    assert PASSWORD.encode() not in received and b"n3w-pw" not in received
    assert [row["outcome"] for row in audit(engine, "router.edit")] == ["ok", "ok"]


def test_router_edit_changes_the_fields_of_the_form(
    engine: Engine,
    sim: SimServer,
    add_router: Callable[..., int],
    here: Callable[..., Result],
    tmp_path: Path,
) -> None:
    add_router(sim, name="core")
    ok(here("tenant", "add", "beta"))
    ok(here("router", "edit", "core", "--name", "edge", "--move-to", "beta", "--timeout", "5"))
    ok(
        here(
            "router", "edit", "edge", "--host", "localhost", "--port", "8729", "--username", "api",
            "--tls", "--ca-file", str(tmp_path / "ca.pem"), "--password-stdin", stdin="pw-2\n",
        )
    )  # fmt: skip
    row = as_json(ok(here("router", "list", "--json")))[0]
    assert (row["name"], row["tenant"], row["host"], row["port"], row["username"]) == (
        "edge",
        "beta",
        "localhost",
        8729,
        "api",
    )
    assert (row["tls"], row["tls_verify"], row["ca_file"]) == (True, True, str(tmp_path / "ca.pem"))
    assert stored_router(engine, "edge").timeout == 5.0
    ok(here("router", "edit", "edge", "--tls-insecure", "--no-ca-file", "--password-stdin", stdin="pw-2\n"))
    table = ok(here("router", "list")).stdout.splitlines()
    assert table[0].split()[5] == "TLS" and table[1].split()[5] == "insecure"
    ok(here("router", "edit", "edge", "--no-tls", "--password-stdin", stdin="pw-2\n"))
    row = as_json(ok(here("router", "list", "--json")))[0]
    assert (row["tls"], row["port"]) == (False, 8729)  # a port given once stays until changed
    fails(here("router", "edit", "edge", "--tls-insecure", "--tls-verify"), "not allowed with argument")
    fails(here("router", "edit", "edge", "--port", "0"), "port must be 1-65535, got 0")  # not "unchanged"
    fails(here("router", "edit", "edge", "--ca-file", "x.pem", "--password-stdin", stdin="p"), "needs --tls")


def test_router_add_verifies_tls_unless_told_otherwise_and_list_shows_which(
    engine: Engine, here: Callable[..., Result]
) -> None:
    ok(here("tenant", "add", "acme"))
    base = (
        "router",
        "add",
        "--tenant",
        "acme",
        "--host",
        "192.0.2.1",
        "--username",
        "api",
        "--password-stdin",
    )
    ok(here(*base, "plain", stdin="pw\n"))
    ok(here(*base, "checked", "--tls", stdin="pw\n"))
    ok(here(*base, "private-ca", "--tls", "--ca-file", "/etc/ca.pem", stdin="pw\n"))
    ok(here(*base, "unchecked", "--tls", "--tls-insecure", stdin="pw\n"))
    fails(here(*base, "odd", "--tls-insecure", stdin="pw\n"), "--tls-insecure needs --tls")
    rows = {row["name"]: row for row in as_json(ok(here("router", "list", "--json")))}
    assert {name: (row["tls"], row["tls_verify"], row["port"]) for name, row in rows.items()} == {
        "plain": (False, True, 8728),
        "checked": (True, True, 8729),
        "private-ca": (True, True, 8729),
        "unchecked": (True, False, 8729),
    }
    table = ok(here("router", "list")).stdout.splitlines()
    shown = {line.split()[1]: line.split()[5] for line in table[1:]}
    assert shown == {
        "plain": "no",
        "checked": "verified",
        "private-ca": "private-ca",
        "unchecked": "insecure",
    }


# -- the key file: lost, replaced, rotated ----------------------------------------------------------------


@pytest.mark.parametrize("loss", ["missing", "different"])
def test_init_refuses_to_replace_a_lost_key_and_says_how_to_restore_it(
    home: Path, sim: SimServer, add_router: Callable[..., int], here: Callable[..., Result], loss: str
) -> None:
    add_router(sim, name="core")
    key = home / "secret.key"
    original = key.read_bytes()
    key.unlink()
    if loss == "different":
        ensure_key_file(key)
    present = key.read_bytes() if key.exists() else None

    refused = fails(here("init"), f"copy the key file back to {key}")
    assert "`poolimport init --new-key`" in refused.stderr and refused.stderr.count("\n") == 1
    assert (key.read_bytes() if key.exists() else None) == present  # neither created nor replaced

    key.write_bytes(original)
    ok(here("init"))
    assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True


def test_init_new_key_marks_routers_password_needed_until_it_is_set_again(
    engine: Engine, home: Path, sim: SimServer, add_router: Callable[..., int], here: Callable[..., Result]
) -> None:
    add_router(sim, name="core")
    add_router(sim, name="edge")
    (home / "secret.key").unlink()
    started_over = ok(here("init", "--new-key"))
    assert "2 routers marked 'password needed'" in started_over.stdout
    assert (home / "secret.key").stat().st_mode & 0o777 == 0o600

    rows = {row["name"]: row for row in as_json(ok(here("router", "list", "--json")))}
    assert rows["core"]["password_needed"] is True and rows["edge"]["password_needed"] is True
    assert "password needed" in rows["core"]["last_error"]
    wanted = "router core needs its password again"
    fails(here("router", "test", "core"), wanted)
    fails(here("import", "core", "--sync"), wanted)
    fails(here("import", "core"), wanted)
    with engine.connect() as conn:
        assert conn.scalar(select(ImportJob.id)) is None  # refused before a job was made
    assert sim.connections_served == 0

    ok(here("router", "edit", "core", "--password-stdin", stdin=PASSWORD + "\n"))
    assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True
    rows = {row["name"]: row for row in as_json(ok(here("router", "list", "--json")))}
    assert (rows["core"]["password_needed"], rows["core"]["last_error"]) == (False, None)
    assert rows["edge"]["password_needed"] is True
    fails(here("router", "test", "edge"), "router edge needs its password again")
    assert [row["subject"] for row in audit(engine, "key.new")] == ["2 routers"]


def test_init_new_key_is_refused_while_the_key_still_decrypts_the_passwords(
    home: Path, sim: SimServer, add_router: Callable[..., int], here: Callable[..., Result]
) -> None:
    add_router(sim, name="core")
    key = (home / "secret.key").read_bytes()
    fails(here("init", "--new-key"), "use `poolimport key rotate`")
    assert (home / "secret.key").read_bytes() == key
    assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True


def test_key_rotate_reencrypts_every_password_and_keeps_the_old_key_beside_it(
    any_engine: Engine,
    home: Path,
    sim: SimServer,
    any_add_router: Callable[..., int],
    here: Callable[..., Result],
) -> None:
    any_add_router(sim, name="core")
    any_add_router(sim, name="edge")
    key_file, old_file = home / "secret.key", home / "secret.key.old"
    first_key = key_file.read_bytes()

    rotated = ok(here("key", "rotate")).stdout
    assert "passwords of 2 routers re-encrypted with a new key" in rotated
    assert str(old_file) in rotated and "other hosts" in rotated
    new_key = key_file.read_bytes()
    assert new_key != first_key and old_file.read_bytes() == first_key
    assert {path.stat().st_mode & 0o777 for path in (key_file, old_file)} == {0o600}
    for token in tokens(any_engine).values():  # the new key alone decrypts them all
        assert Fernet(new_key.strip()).decrypt(token).decode() == PASSWORD
    assert as_json(ok(here("router", "test", "edge", "--json")))["ok"] is True

    fails(here("key", "rotate"), f"remove {old_file}")
    assert key_file.read_bytes() == new_key
    old_file.unlink()
    ok(here("key", "rotate"))
    assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True
    assert [row["outcome"] for row in audit(any_engine, "key.rotate")] == ["ok", REFUSED, "ok"]


def test_key_rotate_changes_nothing_when_a_password_does_not_decrypt(
    any_engine: Engine,
    home: Path,
    sim: SimServer,
    any_add_router: Callable[..., int],
    here: Callable[..., Result],
) -> None:
    any_add_router(sim, name="core")
    any_add_router(sim, name="edge")
    foreign = Fernet(Fernet.generate_key()).encrypt(b"x")
    with any_engine.begin() as conn:
        conn.execute(update(Router).where(Router.name == "edge").values(password_encrypted=foreign))
    before, key = tokens(any_engine), (home / "secret.key").read_bytes()
    fails(here("key", "rotate"), "router edge: stored router password cannot be decrypted")
    assert tokens(any_engine) == before and (home / "secret.key").read_bytes() == key
    assert not (home / "secret.key.old").exists()


def test_an_interrupted_rotation_still_decrypts_and_the_next_rotate_finishes_it(
    any_engine: Engine,
    home: Path,
    sim: SimServer,
    any_add_router: Callable[..., int],
    here: Callable[..., Result],
) -> None:
    any_add_router(sim, name="core")
    key_file = home / "secret.key"
    # Stopped between installing the new key and committing: the rows still hold the old key's tokens.
    shutil.copy(key_file, home / "secret.key.old")
    key_file.unlink()
    ensure_key_file(key_file)
    assert as_json(ok(here("router", "test", "core", "--json")))["ok"] is True
    finished = "finished the interrupted rotation: passwords of 1 router re-encrypted"
    assert finished in ok(here("key", "rotate")).stdout
    assert Fernet(key_file.read_bytes().strip()).decrypt(tokens(any_engine)["core"]).decode() == PASSWORD


def test_key_rotate_is_for_administrators_only(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    add_router(sim, name="core")
    key = settings.key_file.read_bytes()
    operator = Scope(operator="nora", tenant_ids=frozenset({1}), role="operator")
    with pytest.raises(AccessDenied, match="only an administrator may rotate the key"):
        rotate_key(engine, operator, settings.key_file)
    assert settings.key_file.read_bytes() == key
    [refusal] = audit(engine, "key.rotate")
    assert (refusal["actor"], refusal["outcome"]) == ("nora", REFUSED)


def test_a_viewer_may_not_test_a_router(
    engine: Engine, settings: Settings, sim: SimServer, add_router: Callable[..., int]
) -> None:
    router_id = add_router(sim, name="core")
    with session_scope(engine) as session:
        add_operator(session, ADMIN, "vic", None, "viewer", every_tenant=True)
    with pytest.raises(AccessDenied, match="vic is a viewer and may not test routers"):
        Data(replace(settings, identity=Identity(asker="vic"))).test_router(router_id)
    assert sim.connections_served == 0
