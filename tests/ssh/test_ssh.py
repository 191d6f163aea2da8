"""Operators through one service account over real SSH: the key names the operator; the client's command runs
as that operator, parsed and never given to a shell; the TUI opens without one; every way out is refused."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from poolimport.core.access.audit import audit_rows
from poolimport.core.access.operators import add_key, remove_key
from poolimport.core.access.ssh_keys import authorized_keys_line, parse_public_key
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import load_settings
from poolimport.core.db import get_engine, session_scope
from poolimport.core.models import ImportJob
from tests.conftest import unavailable
from tests.faults.test_operator_input import one_error
from tests.helpers import wait_for
from tests.readme import sshd_config as readme_sshd_config
from tests.ssh.conftest import ACCOUNT, ROOT, SSHD, Installation, RunningSshd, SshServer, keygen

pytestmark = pytest.mark.xdist_group("ssh")
EVERYONE = Scope("auditor", None, role="admin")
Result = subprocess.CompletedProcess[str]


def ok(result: Result) -> Result:
    assert result.returncode == 0, result.stderr
    return result


def audit(installation: Installation, **match: Any) -> list[dict[str, Any]]:
    settings = load_settings({"POOLIMPORT_HOME": str(installation.home)})
    with session_scope(get_engine(settings)) as session:
        rows = audit_rows(session, EVERYONE)
    return [row for row in rows if all(row[key] == value for key, value in match.items())]


def routers_seen(sshd: SshServer, key: Path, *options: str) -> list[str]:
    return sorted(row["name"] for row in json.loads(ok(sshd.run(key, "router list --json", *options)).stdout))


# -- a command runs as the key's operator --------------------------------------------------------------


def test_cli_commands_run_in_the_keys_operators_scope(installation: Installation, sshd: SshServer) -> None:
    keys = installation.keys
    jobs = json.loads(ok(sshd.run(keys["nora"], "jobs --json")).stdout)
    assert {job["router"] for job in jobs} == {"north-1"}
    assert routers_seen(sshd, keys["nora"]) == ["north-1"]
    assert routers_seen(sshd, keys["ada"]) == ["north-1", "south-1"]
    # Quoting works as in a shell, without one.
    pools = json.loads(ok(sshd.run(keys["nora"], "pools 'north-1' --json")).stdout)
    assert {pool["name"] for pool in pools} == {"pppoe", "static", "v6"}
    hidden = sshd.run(keys["nora"], "pools south-1")
    assert (hidden.returncode, hidden.stderr) == (1, "error: no router 'south-1'\n")


def test_changes_are_made_as_the_keys_operator_from_the_clients_address(
    installation: Installation, sshd: SshServer
) -> None:
    queued = json.loads(ok(sshd.run(installation.keys["nora"], "import north-1 --json")).stdout)
    settings = load_settings({"POOLIMPORT_HOME": str(installation.home)})
    with session_scope(get_engine(settings)) as session:
        job = session.scalar(select(ImportJob).where(ImportJob.id == queued["job_ids"][0]))
        assert job is not None and job.requested_by == "nora"
        assert (job.asked_via or "").startswith("CLI over SSH from 127.0.0.1, key SHA256:"), job.asked_via
    # No consumer here: cancelling frees the router.
    ok(sshd.run(installation.keys["nora"], f"cancel {queued['job_ids'][0]}"))
    ok(sshd.run(installation.keys["ada"], "operator add olga --tenant north --role viewer"))
    [row] = audit(installation, action="operator.add", subject="olga")
    assert (row["actor"], row["acting_as"], row["origin"]) == ("ada", None, "127.0.0.1")


def test_the_service_account_is_not_removed_over_ssh(installation: Installation, sshd: SshServer) -> None:
    """Every session runs as the service account: removing its operator would lock every key out."""
    refused = sshd.run(installation.keys["ada"], f"operator remove {ACCOUNT}")
    one_error(refused, f"{ACCOUNT} is the account running poolimport here")
    assert routers_seen(sshd, installation.keys["ada"]) == ["north-1", "south-1"]


def test_a_key_comes_on_standard_input(installation: Installation, sshd: SshServer, tmp_path: Path) -> None:
    path = tmp_path / "olaf"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    public = path.with_suffix(".pub").read_text()
    added = ok(
        sshd.run(installation.keys["ada"], "operator add olaf --tenant north --ssh-key -", stdin=public)
    )
    assert "added for olaf" in added.stdout


def test_a_viewer_may_not_write_over_ssh(installation: Installation, sshd: SshServer) -> None:
    vic = installation.keys["vic"]
    assert routers_seen(sshd, vic) == ["north-1"]
    one_error(sshd.run(vic, "import north-1"), "vic is a viewer and may not start imports")
    one_error(sshd.run(vic, "router test north-1"), "vic is a viewer and may not test routers")
    recorded = [
        (row["action"], row["router_id"]) for row in audit(installation, actor="vic", outcome="refused")
    ]
    north = installation.router_ids["north"]
    assert sorted(recorded) == [("import.queue", north), ("router.test", north)]


# -- the TUI -------------------------------------------------------------------------------------------


def test_without_a_command_the_tui_opens_as_the_keys_operator(
    installation: Installation, sshd: SshServer, tmp_path: Path
) -> None:
    if shutil.which("tmux") is None:
        unavailable("tmux is not installed (the TUI over SSH is driven in it)")
    server = ["tmux", "-S", str(tmp_path / f"tmux-{uuid.uuid4().hex[:8]}")]
    command = shlex.join(sshd.args(installation.keys["nora"], "-t"))
    subprocess.run([*server, "new-session", "-d", "-x", "80", "-y", "24", "-s", "tui", command], check=True)

    def screen() -> str:
        shown = subprocess.run([*server, "capture-pane", "-p", "-t", "tui"], capture_output=True, text=True)
        return shown.stdout

    def running() -> bool:
        return subprocess.run([*server, "has-session", "-t", "tui"], capture_output=True).returncode == 0

    def routers_shown() -> str | None:
        text = screen()
        return text if "north-1" in text else None

    try:
        shown = wait_for(routers_shown, what="the TUI over SSH")
        assert "nora @ sqlite" in shown
        assert "south-1" not in shown
        subprocess.run([*server, "send-keys", "-t", "tui", "q"], check=True)
        wait_for(lambda: not running(), what="the TUI to quit and the session to end")
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True)


def test_a_removed_key_ends_the_tui_session_opened_with_it(
    installation: Installation, sshd: SshServer, tmp_path: Path
) -> None:
    """nora's second key opens the TUI; removed meanwhile, the open session says so and may change nothing."""
    if shutil.which("tmux") is None:
        unavailable("tmux is not installed (the TUI over SSH is driven in it)")
    key = keygen(tmp_path / "nora-tablet", "nora@tablet")
    public = parse_public_key(key.with_suffix(".pub").read_text())
    engine = get_engine(load_settings({"POOLIMPORT_HOME": str(installation.home)}))
    with session_scope(engine) as session:
        add_key(session, ROOT, "nora", public)
    # Nora's line as printed, for this key: the same forced command, naming this key's fingerprint.
    printed = next(line for line in installation.lines if line.endswith(" poolimport:nora"))
    program = shlex.split(printed.split('command="', 1)[1].split('" ', 1)[0])[0]
    command = [
        program,
        "ssh",
        "serve",
        "--home",
        str(installation.home.resolve()),
        "--key",
        public.fingerprint,
    ]
    lines_before = installation.authorized_keys.read_text()
    installation.authorized_keys.write_text(
        lines_before + authorized_keys_line(public, command, "poolimport:nora") + "\n"
    )
    server = ["tmux", "-S", str(tmp_path / f"tmux-{uuid.uuid4().hex[:8]}")]
    tui = shlex.join(sshd.args(key, "-t"))
    with session_scope(engine) as session:
        jobs_before = session.scalar(select(func.count()).select_from(ImportJob))

    def screen() -> str:
        return subprocess.run(
            [*server, "capture-pane", "-p", "-t", "tui"], capture_output=True, text=True
        ).stdout

    try:
        subprocess.run([*server, "new-session", "-d", "-x", "100", "-y", "30", "-s", "tui", tui], check=True)
        wait_for(lambda: "north-1" in screen(), what="the TUI over SSH")
        with session_scope(engine) as session:
            remove_key(session, ROOT, "nora", public.fingerprint)
        subprocess.run([*server, "send-keys", "-t", "tui", "i"], check=True)
        wait_for(lambda: "this SSH key was removed" in screen(), what="the banner")
        refusal = {"action": "import.queue", "outcome": "refused", "actor": "nora"}
        [row] = wait_for(lambda: audit(installation, **refusal), what="the refusal recorded")
        assert (row["origin"], row["detail"]) == (
            "127.0.0.1",
            "this SSH key was removed: reconnect with a key that is registered",
        )
        with session_scope(engine) as session:
            assert session.scalar(select(func.count()).select_from(ImportJob)) == jobs_before
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True)
        installation.authorized_keys.write_text(lines_before)


def test_no_terminal_and_no_command_is_one_line(installation: Installation, sshd: SshServer) -> None:
    one_error(sshd.run(installation.keys["nora"], None, "-T"), "the TUI needs a terminal")


# -- nothing else runs -----------------------------------------------------------------------------------

ESCAPES = {
    "semicolon": ("jobs; touch {marker}", "shell syntax is not accepted over SSH (;)"),
    "pipe": ("jobs | touch {marker}", "shell syntax is not accepted over SSH (|)"),
    "and": ("jobs && touch {marker}", "shell syntax is not accepted over SSH (&)"),
    "substitution": ("jobs $(touch {marker})", "shell syntax is not accepted over SSH ($ ( ))"),
    "backticks": ("jobs `touch {marker}`", "shell syntax is not accepted over SSH (`)"),
    "redirect": ("jobs > {marker}", "shell syntax is not accepted over SSH (>)"),
    "newline": ("jobs\ntouch {marker}", "control characters are not accepted over SSH"),
    "env": ("env POOLIMPORT_OPERATOR=ada router list", "setting variables is not accepted over SSH"),
    "assignment": ("POOLIMPORT_OPERATOR=ada router list", "setting variables is not accepted over SSH"),
    "home": ("jobs --home {marker}", "--home is not accepted over SSH"),
    "database": ("jobs --database-url=sqlite:///{marker}", "--database-url is not accepted over SSH"),
    "queue": ("import north-1 --queue-url redis://127.0.0.1:6379/14", "--queue-url is not accepted over SSH"),
    "key file": ("jobs --key-file {marker}", "--key-file is not accepted over SSH"),
    "operator": ("jobs --operator ada", "--operator is not accepted over SSH"),
    "password from the server's environment": (
        "router add x --tenant north --host 192.0.2.1 --username u --password-env HOME",
        "--password-env is not accepted over SSH",
    ),
    "a key file on the server": ("operator key add nora --ssh-key {marker}", "a key comes on standard input"),
    "worker": ("worker", "`worker` is server administration"),
    "init": ("init", "`init` is server administration"),
    "authorized keys": ("ssh authorized-keys", "`ssh` is server administration"),
    "serve as another key": ("ssh serve --home {marker} --key SHA256:x", "`ssh` is server administration"),
    "simulator": ("sim --config {marker}", "`sim` is server administration"),
    "demo": ("demo", "`demo` is server administration"),
    "unbalanced quote": ("jobs 'north", "cannot read the command: No closing quotation"),
}


@pytest.mark.parametrize("case", ESCAPES, ids=list(ESCAPES))
def test_every_way_out_is_refused_with_one_line_and_recorded(
    installation: Installation, sshd: SshServer, tmp_path: Path, case: str
) -> None:
    words, message = ESCAPES[case]
    marker = tmp_path / "marker"
    command = words.format(marker=marker)
    refused = sshd.run(installation.keys["nora"], command)
    one_error(refused, message)
    assert refused.stdout == "" and refused.stderr.count("\n") == 1
    assert not marker.exists()
    [row] = audit(installation, action="ssh.command", subject=command.replace("\n", " "))
    assert (row["actor"], row["origin"], row["outcome"]) == ("nora", "127.0.0.1", "refused")


def sent_variables(elsewhere: Path) -> str:
    """`ssh -o` for variables that would make a session another operator in another installation."""
    return (
        f"SetEnv=POOLIMPORT_OPERATOR=ada POOLIMPORT_HOME={elsewhere}"
        f" POOLIMPORT_DATABASE_URL=sqlite:///{elsewhere}.db POOLIMPORT_QUEUE_URL=sqlite:///{elsewhere}-q.db"
    )


def test_the_servers_settings_drop_what_the_client_and_the_key_line_set(
    installation: Installation, sshd: SshServer, tmp_path: Path
) -> None:
    """With the README's settings sshd passes none of the client's variables along, and ignores the
    environment= of a key line: a key whose command is `env` sees neither."""
    seen = ok(sshd.run(installation.probe_key, None, "-o", sent_variables(tmp_path / "elsewhere"))).stdout
    assert "SSH_CONNECTION=" in seen  # it is the session's environment
    assert [line for line in seen.splitlines() if line.startswith("POOLIMPORT_")] == []


def test_variables_sent_by_the_client_change_nothing(
    installation: Installation, permissive_sshd: SshServer, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    sent = sent_variables(elsewhere)
    # This server accepts them: a key whose command is `env` sees every one.
    seen = ok(permissive_sshd.run(installation.probe_key, None, "-o", sent)).stdout.splitlines()
    assert "POOLIMPORT_OPERATOR=ada" in seen and f"POOLIMPORT_HOME={elsewhere}" in seen
    # Through an operator's key they change nothing: the same operator, the same installation.
    nora = installation.keys["nora"]
    assert routers_seen(permissive_sshd, nora, "-o", sent) == ["north-1"]
    queued = json.loads(ok(permissive_sshd.run(nora, "import north-1 --json", "-o", sent)).stdout)
    ok(permissive_sshd.run(nora, f"cancel {queued['job_ids'][0]}"))
    assert not any(path.name.startswith("elsewhere") for path in tmp_path.iterdir())


# -- the server's settings, as the README gives them -------------------------------------------------------


def test_the_server_runs_the_sshd_settings_of_the_readme(
    installation: Installation, sshd_running: RunningSshd
) -> None:
    """`sshd -T` prints the settings in force for a connection: for the service account, the README's."""
    dropin = sshd_running.config.with_name("poolimport.conf")
    assert dropin.read_text() == readme_sshd_config(ACCOUNT)
    assert sshd_running.config.read_text().startswith(f"Include {dropin}\n")

    def in_force(user: str) -> dict[str, str]:
        shown = subprocess.run(
            [SSHD, "-T", "-f", str(sshd_running.config), "-C", f"user={user},host=client,addr=127.0.0.1"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return dict(line.split(" ", 1) for line in shown.splitlines() if " " in line)

    service = in_force(ACCOUNT)
    assert {name: service[name] for name in README_SETTINGS} == README_SETTINGS
    assert "acceptenv" not in service
    # The Match block is the service account's alone: it ends with the file that holds it.
    assert in_force("someone-else")["disableforwarding"] == "no"


# What `sshd -T` shows for the service account under the README's settings.
README_SETTINGS = {
    "permituserenvironment": "no",
    "authenticationmethods": "publickey",
    "passwordauthentication": "no",
    "kbdinteractiveauthentication": "no",
    "disableforwarding": "yes",
    "permittunnel": "no",
    "permituserrc": "no",
    "permittty": "yes",
}
FORWARDS = {
    "through the server (-W, as -L opens)": ("-W", "127.0.0.1:{port}"),
    "a port opened on it (-R)": ("-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:{port}"),
}


@pytest.mark.parametrize("forward", FORWARDS, ids=["connect", "listen"])
@pytest.mark.parametrize(
    "key", ["an operator's line", "a line that restricts nothing"], ids=["nora", "probe"]
)
def test_nothing_is_forwarded(installation: Installation, sshd: SshServer, forward: str, key: str) -> None:
    """An operator's line says `restrict`; the probe's says nothing, so there the server's settings refuse."""
    chosen = installation.keys["nora"] if key.startswith("an operator") else installation.probe_key
    options = [option.format(port=sshd.port) for option in FORWARDS[forward]]
    refused = sshd.run(chosen, None, *options)
    assert refused.returncode == 255, refused.stderr
    assert "SSH-2.0" not in refused.stdout  # the server's banner, had a connection gone through
    assert "administratively prohibited" in refused.stderr or "forwarding failed" in refused.stderr


def test_a_key_no_longer_registered_is_refused(installation: Installation, sshd: SshServer) -> None:
    """gus's key was removed after the lines were printed: the line stays until the file is rewritten."""
    refused = sshd.run(installation.keys["gus"], "jobs")
    one_error(refused, "this SSH key is no longer registered")
    assert audit(installation, action="ssh.key", outcome="refused")
