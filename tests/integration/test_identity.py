"""Who is asking, locally: the OS account of the process, never `$USER`. POOLIMPORT_OPERATOR is honoured for
an administrator only (and recorded as "ADMIN as NAME"); operators and their SSH keys are managed by
administrators, and every change and refusal lands in the audit."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from poolimport.core.access.audit import audit_rows
from poolimport.core.access.gate import authenticate
from poolimport.core.access.identity import Identity
from poolimport.core.access.operators import add_key, remove_key
from poolimport.core.access.ssh_keys import parse_public_key
from poolimport.core.access.tenancy import AccessDenied, NotRegistered, Scope, resolve_scope
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.models import Operator, OperatorKey, Router, Tenant
from poolimport.sim import SimServer
from poolimport.tui.data import Data
from tests.conftest import run_cli
from tests.faults.test_operator_input import one_error

ME = pwd.getpwuid(os.getuid()).pw_name
EVERYONE = Scope(operator="auditor", tenant_ids=None, role="admin")
Result = subprocess.CompletedProcess[str]


def ok(result: Result) -> Result:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        return [row for row in audit_rows(session, EVERYONE) if row["action"] == action]


@pytest.fixture
def world(engine: Engine, sim: SimServer, add_router: Callable[..., int]) -> Engine:
    """Routers north-1 and south-1; nora operates north, vic views north, ada administers everything (as does
    the account running the tests: the test database's first administrator)."""
    add_router(sim, name="north-1", tenant="north")
    add_router(sim, name="south-1", tenant="south")
    with session_scope(engine) as session:
        tenants = {t.name: t.id for t in session.scalars(select(Tenant))}
        session.add_all(
            [
                Operator(name="nora", tenant_id=tenants["north"], role="operator"),
                Operator(name="vic", tenant_id=tenants["north"], role="viewer"),
                Operator(name="sam", tenant_id=tenants["south"], role="operator"),
                Operator(name="ada", tenant_id=None, role="admin"),
            ]
        )
    return engine


@pytest.fixture
def me_of_north(world: Engine) -> Engine:
    """The account running the tests is only an operator of north; ada is the administrator."""
    with session_scope(world) as session:
        north = session.scalar(select(Tenant.id).where(Tenant.name == "north"))
        session.execute(update(Operator).where(Operator.name == ME).values(role="operator", tenant_id=north))
    return world


def router_names(result: Result) -> list[str]:
    return sorted(row["name"] for row in as_json(result))


# -- who is asking ------------------------------------------------------------------------------------


def test_init_registers_the_account_that_runs_it_as_the_first_administrator(home: Path) -> None:
    first = ok(run_cli("init"))
    assert f"first administrator: {ME} (the account running init)" in first.stdout
    assert as_json(run_cli("operator", "list", "--json")) == [
        {"name": ME, "role": "admin", "tenant": None, "keys": 0}
    ]
    second = ok(run_cli("init"))
    assert "first administrator" not in second.stdout
    assert [o["name"] for o in as_json(run_cli("operator", "list", "--json"))] == [ME]


def test_the_user_variables_name_nobody(me_of_north: Engine) -> None:
    """$USER and $LOGNAME are whatever the caller says; the real uid is who asks."""
    assert router_names(run_cli("router", "list", "--json", env={"USER": "ada", "LOGNAME": "ada"})) == [
        "north-1"
    ]


def test_the_operator_variable_from_a_non_administrator_is_refused_and_recorded(me_of_north: Engine) -> None:
    refused = run_cli("router", "list", "--json", env={"POOLIMPORT_OPERATOR": "ada"})
    one_error(refused, f"{ME} may not act as ada: only an administrator may act as another operator")
    assert refused.stdout == "" and refused.stderr.count("\n") == 1
    [row] = audit(me_of_north, "sign-in")
    assert (row["actor"], row["acting_as"], row["origin"], row["outcome"]) == (ME, "ada", "local", "refused")


def test_an_empty_operator_variable_is_an_error_not_a_fallback(world: Engine) -> None:
    for user in ("", ME, "ada"):
        refused = run_cli("router", "list", env={"POOLIMPORT_OPERATOR": "", "USER": user})
        one_error(refused, "POOLIMPORT_OPERATOR is set but empty: name the operator to act as, or unset it")
        assert refused.stdout == ""


def test_an_unregistered_account_is_refused_and_recorded(world: Engine) -> None:
    with session_scope(world) as session:
        session.delete(session.scalar(select(Operator).where(Operator.name == ME)))
    one_error(run_cli("jobs"), f"operator {ME!r} is not registered")
    [row] = audit(world, "sign-in")
    assert (row["actor"], row["acting_as"], row["outcome"]) == (ME, None, "refused")


def test_no_operator_registered_means_nobody_is_let_in(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.delete(session.scalar(select(Operator).where(Operator.name == ME)))
    one_error(run_cli("router", "list"), "no operators are registered: run `poolimport init`")


def test_an_administrator_acts_as_another_operator_recorded_as_admin_as_name(world: Engine) -> None:
    nora = {"POOLIMPORT_OPERATOR": "nora"}
    assert router_names(run_cli("router", "list", "--json", env=nora)) == ["north-1"]
    job = as_json(run_cli("import", "north-1", "--json", env=nora))
    assert as_json(run_cli("job", "show", str(job["job_ids"][0]), "--json"))["requested_by"] == "nora"

    ok(run_cli("operator", "add", "olga", "--tenant", "north", env={"POOLIMPORT_OPERATOR": "ada"}))
    [row] = audit(world, "operator.add")
    assert (row["actor"], row["acting_as"], row["origin"], row["subject"]) == (ME, "ada", "local", "olga")
    # Acting as yourself is just being yourself.
    ok(run_cli("operator", "add", "otto", "--tenant", "north", env={"POOLIMPORT_OPERATOR": ME}))
    assert [(r["actor"], r["acting_as"]) for r in audit(world, "operator.add")][0] == (ME, None)


def test_a_viewer_may_not_test_a_router(world: Engine, sim: SimServer) -> None:
    refused = run_cli("router", "test", "north-1", env={"POOLIMPORT_OPERATOR": "vic"})
    one_error(refused, "vic is a viewer and may not test routers (the result is recorded)")
    assert sim.connections_served == 0
    with session_scope(world) as session:
        assert session.scalar(select(Router.last_checked_at).where(Router.name == "north-1")) is None
    [row] = audit(world, "router.test")
    assert (row["actor"], row["acting_as"], row["outcome"], row["subject"]) == (
        ME,
        "vic",
        "refused",
        "north-1",
    )
    # An operator may.
    assert as_json(run_cli("router", "test", "north-1", "--json", env={"POOLIMPORT_OPERATOR": "nora"}))["ok"]


def test_a_viewer_may_not_test_a_router_in_the_tui(world: Engine, settings: Settings, sim: SimServer) -> None:
    viewer = Data(dataclasses.replace(settings, identity=Identity(ME, acting_as="vic")))
    router_id = next(row["id"] for row in viewer.routers() if row["name"] == "north-1")
    with pytest.raises(AccessDenied, match="^vic is a viewer and may not test routers"):
        viewer.test_router(router_id)
    assert sim.connections_served == 0
    assert [row["outcome"] for row in audit(world, "router.test")] == ["refused"]


# -- operators and their keys ---------------------------------------------------------------------------


def keygen(tmp_path: Path, name: str, kind: str = "ed25519") -> Path:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen (OpenSSH) is not installed")
    path = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{name}@laptop", "-f", str(path)], check=True
    )
    return path.with_suffix(".pub")


def fingerprint(public_key: Path) -> str:
    """What `ssh-keygen -l` prints: the reference the stored fingerprint must equal."""
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(public_key)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[1]


def test_operators_and_keys_added_listed_and_removed_with_an_audit(world: Engine, tmp_path: Path) -> None:
    kim_ed = keygen(tmp_path, "kim-ed")
    kim_rsa = keygen(tmp_path, "kim-rsa", "rsa")
    kim_ec = keygen(tmp_path, "kim-ec", "ecdsa")
    added = ok(run_cli("operator", "add", "kim", "--tenant", "north", "--ssh-key", str(kim_ed)))
    assert added.stdout.splitlines() == [
        "operator kim added: operator of tenant north",
        f"key {fingerprint(kim_ed)} (kim-ed@laptop) added for kim",
    ]
    ok(run_cli("operator", "key", "add", "kim", "--ssh-key", str(kim_rsa)))
    ok(run_cli("operator", "key", "add", "kim", "--ssh-key", "-", stdin=kim_ec.read_text()))
    keys = as_json(run_cli("operator", "key", "list", "kim", "--json"))
    assert [(k["operator"], k["type"], k["fingerprint"], k["comment"]) for k in keys] == [
        ("kim", "ssh-ed25519", fingerprint(kim_ed), "kim-ed@laptop"),
        ("kim", "ssh-rsa", fingerprint(kim_rsa), "kim-rsa@laptop"),
        ("kim", "ecdsa-sha2-nistp256", fingerprint(kim_ec), "kim-ec@laptop"),
    ]
    listed = {o["name"]: o for o in as_json(run_cli("operator", "list", "--json"))}
    assert listed["kim"] == {"name": "kim", "role": "operator", "tenant": "north", "keys": 3}

    # One key names one operator.
    one_error(
        run_cli("operator", "key", "add", "nora", "--ssh-key", str(kim_ed)),
        f"key {fingerprint(kim_ed)} is already registered (operator kim)",
    )
    ok(run_cli("operator", "key", "remove", "kim", fingerprint(kim_rsa)))
    one_error(
        run_cli("operator", "key", "remove", "nora", fingerprint(kim_ed)),
        f"operator nora has no key {fingerprint(kim_ed)}",
    )
    assert len(as_json(run_cli("operator", "key", "list", "kim", "--json"))) == 2

    removed = ok(run_cli("operator", "remove", "kim"))
    assert removed.stdout == "operator kim removed, with 2 SSH keys\n"
    with session_scope(world) as session:
        assert session.scalars(select(OperatorKey)).all() == []
    assert [r["subject"] for r in audit(world, "operator.add")] == ["kim"]
    assert [r["subject"] for r in audit(world, "operator.remove")] == ["kim"]
    assert [r["detail"] for r in audit(world, "operator.key.add")] == [
        f"{fingerprint(k)} for kim" for k in (kim_ec, kim_rsa, kim_ed)
    ]
    assert [r["detail"] for r in audit(world, "operator.key.remove")] == [f"{fingerprint(kim_rsa)} for kim"]


def test_a_removed_key_ends_the_sessions_opened_with_it(world: Engine, tmp_path: Path) -> None:
    """A session over SSH is let in again on every read: once its key is gone (or is another operator's),
    it is refused like a removed operator, and the refusal recorded; a local session is not asked for one."""
    nora_key = keygen(tmp_path, "nora")
    with session_scope(world) as session:
        add_key(session, EVERYONE, "nora", parse_public_key(nora_key.read_text()))
    over_ssh = Identity("nora", origin="192.0.2.7", key=fingerprint(nora_key))
    assert authenticate(world, over_ssh).operator == "nora"

    with session_scope(world) as session:
        remove_key(session, EVERYONE, "nora", fingerprint(nora_key))
    with session_scope(world) as session, pytest.raises(NotRegistered) as refused:
        resolve_scope(session, over_ssh)
    assert str(refused.value) == "this SSH key was removed: reconnect with a key that is registered"
    with pytest.raises(NotRegistered):
        authenticate(world, over_ssh)
    [row] = [row for row in audit(world, "sign-in") if row["outcome"] == "refused"]
    assert (row["actor"], row["origin"], row["detail"]) == ("nora", "192.0.2.7", str(refused.value))
    # The same operator from a local account has no key to lose.
    assert authenticate(world, Identity("nora")).operator == "nora"

    # The key given to someone else names them, not nora.
    with session_scope(world) as session:
        add_key(session, EVERYONE, "sam", parse_public_key(nora_key.read_text()))
    with pytest.raises(NotRegistered):
        authenticate(world, over_ssh)
    sam = dataclasses.replace(over_ssh, asker="sam")
    assert authenticate(world, sam).operator == "sam"


def test_a_failed_key_leaves_no_operator_behind(world: Engine, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key\n")
    one_error(run_cli("operator", "add", "kim", "--tenant", "north", "--ssh-key", str(junk)), "junk.pub")
    with session_scope(world) as session:
        assert session.scalar(select(Operator).where(Operator.name == "kim")) is None


BAD_KEYS = {
    "empty": ("", "holds no public key"),
    "junk": ("hello world\n", "is not an OpenSSH public key"),
    "with options": (
        'command="/bin/sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA',
        "is not an OpenSSH public key",
    ),
    "bad base64": ("ssh-ed25519 AAAA%%%%\n", "its key data is not valid base64"),
    "type mismatch": (
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOv1b2m7nfSj2W6Pgq8RAmgT+8qjC1xc2Jm6mYVwYsNS\n",
        "says ssh-rsa",
    ),
    "two keys": (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv1b2m7nfSj2W6Pgq8RAmgT+8qjC1xc2Jm6mYVwYsNS a\n" * 2,
        "holds 2 lines: one public key per file",
    ),
}


@pytest.mark.parametrize("case", BAD_KEYS, ids=list(BAD_KEYS))
def test_bad_key_files_are_one_line_that_never_echoes_them(world: Engine, tmp_path: Path, case: str) -> None:
    content, message = BAD_KEYS[case]
    path = tmp_path / "key.pub"
    path.write_text(content)
    refused = run_cli("operator", "key", "add", "nora", "--ssh-key", str(path))
    one_error(refused, message)
    assert "/bin/sh" not in refused.stderr and "hello" not in refused.stderr


def test_a_private_key_is_refused_without_a_word_of_it(world: Engine, tmp_path: Path) -> None:
    private = keygen(tmp_path, "secret").with_suffix("")
    refused = run_cli("operator", "key", "add", "nora", "--ssh-key", str(private))
    one_error(refused, "is a private key: give the public one (secret.pub)")
    body = private.read_text().splitlines()[1]
    assert body[:20] not in refused.stderr + refused.stdout


def test_only_administrators_manage_operators_and_keys(world: Engine, tmp_path: Path) -> None:
    key = keygen(tmp_path, "k")
    nora = {"POOLIMPORT_OPERATOR": "nora"}
    for words, message in (
        (("operator", "add", "x", "--tenant", "north"), "only an administrator may add operators"),
        (("operator", "remove", "vic"), "only an administrator may remove operators"),
        (("operator", "key", "add", "nora", "--ssh-key", str(key)), "only an administrator may add SSH keys"),
        (("operator", "key", "remove", "nora", "SHA256:x"), "only an administrator may remove SSH keys"),
        (("ssh", "authorized-keys"), "only an administrator may list the authorized keys"),
    ):
        one_error(run_cli(*words, env=nora), message)
    one_error(run_cli("operator", "key", "list", env={"POOLIMPORT_OPERATOR": "vic"}), "vic is a viewer")


def test_an_operator_or_viewer_is_of_a_tenant_unless_every_tenant_is_asked_for(world: Engine) -> None:
    """Forgetting --tenant doesn't quietly open every tenant; an administrator is of every tenant."""
    one_error(run_cli("operator", "add", "ned"), "an operator belongs to a tenant: pass --tenant NAME")
    one_error(
        run_cli("operator", "add", "ned", "--role", "viewer"),
        "a viewer belongs to a tenant: pass --tenant NAME",
    )
    one_error(
        run_cli("operator", "add", "bad", "--role", "admin", "--tenant", "north"),
        "an administrator is of every tenant: leave out --tenant",
    )
    noc = ok(run_cli("operator", "add", "noc", "--role", "viewer", "--every-tenant"))
    assert "viewer of every tenant" in noc.stdout
    with session_scope(world) as session:
        assert session.scalar(select(Operator.name).where(Operator.name.in_(("ned", "bad")))) is None


def test_operator_list_shows_only_the_askers_tenants(world: Engine) -> None:
    names = {
        o["name"] for o in as_json(run_cli("operator", "list", "--json", env={"POOLIMPORT_OPERATOR": "nora"}))
    }
    assert names == {"nora", "vic"}
    assert {o["name"] for o in as_json(run_cli("operator", "list", "--json"))} == {
        ME,
        "ada",
        "nora",
        "vic",
        "sam",
    }


def test_no_one_removes_the_account_they_stand_on(world: Engine) -> None:
    """Removing your own account, or the one poolimport runs as, would lock it out: another account may."""
    one_error(run_cli("operator", "remove", ME), f"{ME} is the account running poolimport here")
    assert ME in {o["name"] for o in as_json(run_cli("operator", "list", "--json"))}


def test_the_last_administrator_stays(world: Engine) -> None:
    ok(run_cli("operator", "remove", "ada"))
    one_error(run_cli("operator", "remove", ME), f"{ME} is the last administrator: add another first")
    one_error(run_cli("operator", "remove", "nobody"), "no operator named 'nobody'")


# -- the lines for ~/.ssh/authorized_keys ----------------------------------------------------------------


def test_authorized_keys_lines_work_as_printed(
    world: Engine, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POOLIMPORT_HEARTBEAT_INTERVAL")
    nora_key, vic_key = keygen(tmp_path, "nora"), keygen(tmp_path, "vic")
    ok(run_cli("operator", "key", "add", "nora", "--ssh-key", str(nora_key)))
    ok(run_cli("operator", "key", "add", "vic", "--ssh-key", str(vic_key)))
    lines = ok(run_cli("ssh", "authorized-keys")).stdout.splitlines()
    assert len(lines) == 2
    for line, (name, key) in zip(lines, (("nora", nora_key), ("vic", vic_key)), strict=True):
        options, rest = line.split('" ', 1)
        assert options.startswith('restrict,pty,command="')
        program, *argv = shlex.split(options.removeprefix('restrict,pty,command="'))
        assert Path(program).is_absolute() and os.access(program, os.X_OK), program
        assert argv == ["ssh", "serve", "--home", str(home.resolve()), "--key", fingerprint(key)]
        key_type, key_data, comment = rest.split(" ")
        assert f"{key_type} {key_data}" == " ".join(key.read_text().split()[:2])
        assert comment == f"poolimport:{name}"


def test_ssh_serve_runs_only_under_an_administrators_account(
    me_of_north: Engine, home: Path, tmp_path: Path
) -> None:
    """sshd runs the forced command as the account whose authorized_keys holds the line: unless that account
    is an administrator, it may not act as the key's operator, so nothing runs."""
    nora_key = keygen(tmp_path, "nora")
    with session_scope(me_of_north) as session:
        add_key(session, EVERYONE, "nora", parse_public_key(nora_key.read_text()))
    serve = ("ssh", "serve", "--home", str(home), "--key", fingerprint(nora_key))
    refused = run_cli(*serve, env={"SSH_ORIGINAL_COMMAND": "router list --json"})
    one_error(refused, f"ssh serve must run as the installation's administrator account, not {ME}")
    assert refused.stdout == ""
    [row] = [row for row in audit(me_of_north, "ssh serve") if row["outcome"] == "refused"]
    assert (row["actor"], row["acting_as"]) == (ME, None)


def test_authorized_keys_refuses_settings_that_ssh_sessions_would_not_see(
    world: Engine, tmp_path: Path
) -> None:
    """An SSH session reads the installation's home and config.toml only: lines printed under another
    database would not work as printed."""
    ok(run_cli("operator", "key", "add", "nora", "--ssh-key", str(keygen(tmp_path, "nora"))))
    one_error(
        run_cli("ssh", "authorized-keys"),
        "POOLIMPORT_HEARTBEAT_INTERVAL is set here but SSH sessions read only",
    )
