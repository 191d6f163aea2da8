"""A real OpenSSH server in front of an installation: `sshd` on a loopback port with its own host key, whose
AuthorizedKeysFile holds the lines `poolimport ssh authorized-keys` printed, and the real `ssh` client with
each operator's key.

The service account is the account running the tests. sshd runs the sshd_config the README gives
administrators, word for word (for this account), as a drop-in included first, the way Debian's
sshd_config includes sshd_config.d/*.conf; the main file holds only what a test server needs of its own
(port, host key, where the lines are). A second server also accepts every POOLIMPORT_* variable from the
client, so that a test can show that even then what the client sends changes nothing.
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
from poolimport.core.access.identity import os_account
from poolimport.core.access.operators import add_key, add_operator, register_first_admin, remove_key
from poolimport.core.access.ssh_keys import parse_public_key
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.jobs.lifecycle import create_job
from poolimport.core.jobs.runner import execute_job
from poolimport.core.models import Router
from poolimport.core.routers.fields import RouterFields
from poolimport.core.routers.records import add_tenant, save_router
from poolimport.core.secrets.box import ensure_key_file
from poolimport.sim import SimServer
from tests.conftest import PASSWORD, router_config, run_cli, unavailable
from tests.helpers import wait_for
from tests.readme import sshd_config as readme_sshd_config

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
PLANTED = "POOLIMPORT_PLANTED=by-the-key-line"  # an environment= option of the probe key's line


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
    probe_key: Path  # a key whose line runs `env` and restricts nothing itself: shows what the server allows
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
            run = execute_job(engine, settings, job_id)
            assert run is not None and run.status == "succeeded"
        printed = run_cli("ssh", "authorized-keys")
        assert printed.returncode == 0, printed.stderr
        gus = parse_public_key(keys["gus"].with_suffix(".pub").read_text())
        with session_scope(engine) as session:
            remove_key(session, ROOT, "gus", gus.fingerprint)
        # A line with no restriction of its own and a variable planted in it: whatever it may not do, and
        # whatever of its environment it does not get, is the server's config at work.
        probe_key = keygen(base / "probe", "probe")
        probe_options = f'environment="{PLANTED}",command="env"'
        probe_line = f"{probe_options} {probe_key.with_suffix('.pub').read_text().strip()}"
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


@dataclass
class RunningSshd:
    server: SshServer
    config: Path  # the main file; it includes the README's
    process: subprocess.Popen[bytes]


def start_sshd(base: Path, installation: Installation, *extra: str) -> RunningSshd:
    """sshd with the README's sshd_config; `extra` lines go in the main file, after it."""
    base.mkdir()
    host_key = keygen(base / "host_key", "test host")
    port = _free_port()
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text()}")
    dropin = base / "poolimport.conf"
    dropin.write_text(readme_sshd_config(ACCOUNT))
    config = base / "sshd_config"
    main_lines = [
        f"Include {dropin}",  # first, as Debian's sshd_config includes sshd_config.d/*.conf
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {base / 'sshd.pid'}",
        f"AuthorizedKeysFile {installation.authorized_keys}",
        "PermitRootLogin prohibit-password",  # the tests may run as root, a service account never does
        "StrictModes no",  # the test's files live under a temporary folder
        "UsePAM no",
        "LogLevel VERBOSE",
        *extra,
    ]
    config.write_text("\n".join(main_lines) + "\n")
    if os.geteuid() == 0:
        # sshd started as root separates privileges into this directory, which the system's service
        # would have created.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = base / "sshd.log"
    with log.open("wb") as output:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=output, stderr=output)
    wait_for(lambda: _accepts(port) or process.poll() is not None, what="sshd to listen")
    if process.poll() is not None:
        unavailable(f"sshd did not start: {log.read_text(errors='replace').strip()}")
    return RunningSshd(SshServer(port, known_hosts), config, process)


def _stop(running: RunningSshd) -> None:
    running.process.terminate()
    running.process.wait(timeout=10)


@pytest.fixture(scope="module")
def sshd_running(
    installation: Installation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSshd]:
    running = start_sshd(tmp_path_factory.mktemp("sshd") / "server", installation)
    yield running
    _stop(running)


@pytest.fixture(scope="module")
def sshd(sshd_running: RunningSshd) -> SshServer:
    """The server as the README says to set it up."""
    return sshd_running.server


@pytest.fixture(scope="module")
def permissive_sshd(
    installation: Installation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SshServer]:
    """The same, also accepting every POOLIMPORT_* variable the client sends (`ssh -o SetEnv=…`)."""
    running = start_sshd(
        tmp_path_factory.mktemp("sshd") / "permissive", installation, "AcceptEnv POOLIMPORT_*"
    )
    yield running.server
    _stop(running)
