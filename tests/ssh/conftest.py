"""A real OpenSSH server in front of an installation: `sshd` on a loopback port with its own host key and
config, whose AuthorizedKeysFile holds the lines `poolimport ssh authorized-keys` printed, and the real `ssh`
client with each operator's key.

The service account is the account running the tests. The config accepts POOLIMPORT_* variables from the
client on purpose, so that a test can show that what the client sends changes nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from poolimport.core import schema
from poolimport.core.config import load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.identity import os_account
from poolimport.core.job_runner import run_job
from poolimport.core.jobs import create_job
from poolimport.core.models import Router
from poolimport.core.operators import add_key, add_operator, register_first_admin, remove_key
from poolimport.core.router_fields import RouterFields
from poolimport.core.routers import add_tenant, save_router
from poolimport.core.secrets import ensure_key_file
from poolimport.core.ssh_keys import parse_public_key
from poolimport.core.tenancy import Scope
from poolimport.sim import SimServer
from tests.conftest import PASSWORD, router_config, run_cli, unavailable
from tests.helpers import wait_for

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
ACCOUNT = os_account()
ROOT = Scope(ACCOUNT, None, role="admin")
# operator -> (tenant, role); each gets a key. gus's key is removed after the lines are printed.
OPERATORS = {
    "nora": ("north", "operator"),
    "vic": ("north", "viewer"),
    "ada": (None, "admin"),
    "gus": ("south", "operator"),
}


def need_openssh() -> None:
    missing = [tool for tool in ("ssh", "ssh-keygen") if shutil.which(tool) is None]
    if not os.access(SSHD, os.X_OK):
        missing.append("sshd")
    if missing:
        unavailable(f"OpenSSH not installed ({', '.join(missing)} missing): apt-get install openssh-server")


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
    )
    return path


@dataclass
class Installation:
    home: Path
    keys: dict[str, Path]  # operator -> private key file
    router_ids: dict[str, int]
    probe_key: Path  # a key whose line runs `env`: shows what the client's variables reach
    authorized_keys: Path
    lines: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """north-1 and south-1 imported, the operators above with their keys, and the authorized_keys file."""
    need_openssh()
    base = tmp_path_factory.mktemp("ssh")
    home = base / "home"
    with pytest.MonkeyPatch.context() as patch, SimServer(router_config(), port=0) as sim:
        for name in [name for name in os.environ if name.startswith("POOLIMPORT_")]:
            patch.delenv(name)
        patch.setenv("POOLIMPORT_HOME", str(home))
        settings = load_settings()
        home.mkdir()
        ensure_key_file(settings.key_file)
        engine = get_engine(settings)
        schema.upgrade(engine)
        keys = {name: keygen(base / name, f"{name}@laptop") for name in OPERATORS}
        router_ids = {}
        with session_scope(engine) as session:
            register_first_admin(session, settings.identity)
            for tenant in ("north", "south"):
                add_tenant(session, ROOT, tenant)
                fields = RouterFields(name=f"{tenant}-1", host="127.0.0.1", port=sim.port, username="admin")
                router_ids[tenant] = save_router(session, ROOT, settings, tenant, fields, PASSWORD).id
            for name, (tenant, role) in OPERATORS.items():
                add_operator(session, ROOT, name, tenant, role)
                add_key(session, ROOT, name, parse_public_key(keys[name].with_suffix(".pub").read_text()))
        for router_id in router_ids.values():
            with session_scope(engine) as session:
                router = session.get(Router, router_id)
                job_id = create_job(session, ROOT, router, time_limit=60, heartbeat_interval=10).id
            assert run_job(engine, settings, job_id) == "succeeded"
        printed = run_cli("ssh", "authorized-keys")
        assert printed.returncode == 0, printed.stderr
        gus = parse_public_key(keys["gus"].with_suffix(".pub").read_text())
        with session_scope(engine) as session:
            remove_key(session, ROOT, "gus", gus.fingerprint)
        probe_key = keygen(base / "probe", "probe")
        probe_line = f'restrict,command="env" {probe_key.with_suffix(".pub").read_text().strip()}'
        authorized_keys = base / "authorized_keys"
        authorized_keys.write_text(printed.stdout + probe_line + "\n")
        yield Installation(home, keys, router_ids, probe_key, authorized_keys, printed.stdout.splitlines())
        dispose_engines()


@dataclass
class SshServer:
    port: int
    known_hosts: Path

    def args(self, key: Path, *options: str) -> list[str]:
        """The real `ssh` client, configured by nothing but these options."""
        return [
            "ssh", "-F", "/dev/null", "-p", str(self.port), "-i", str(key),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
            *options, f"{ACCOUNT}@127.0.0.1",
        ]  # fmt: skip

    def run(
        self, key: Path, command: str | None = None, *options: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`ssh … [command]`: the command goes as one word, so the server sees it exactly as given."""
        argv = self.args(key, *options) + ([command] if command is not None else [])
        return subprocess.run(
            argv, input=stdin or "", capture_output=True, text=True, timeout=60, env=_without_poolimport()
        )


def _without_poolimport() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("POOLIMPORT_")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def sshd(installation: Installation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    base = tmp_path_factory.mktemp("sshd")
    host_key = keygen(base / "host_key", "test host")
    port = _free_port()
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text()}")
    config = base / "sshd_config"
    config.write_text(
        f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {base / "sshd.pid"}
AuthorizedKeysFile {installation.authorized_keys}
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitUserEnvironment no
StrictModes no
UsePAM no
AcceptEnv POOLIMPORT_*
LogLevel VERBOSE
"""
    )
    if os.geteuid() == 0:
        # sshd started as root separates privileges into this directory, which the system's service
        # would have created.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = base / "sshd.log"
    with log.open("wb") as output:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=output, stderr=output)
    try:
        wait_for(lambda: _accepts(port) or process.poll() is not None, what="sshd to listen")
        if process.poll() is not None:
            unavailable(f"sshd did not start: {log.read_text(errors='replace').strip()}")
        yield SshServer(port, known_hosts)
    finally:
        process.terminate()
        process.wait(timeout=10)
