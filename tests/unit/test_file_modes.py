"""Everything poolimport creates is private to the account, whatever the umask: folders 0700, files 0600.

The commands and a consumer run as subprocesses with the umask under test; the data and queue databases'
WAL and SHM files are looked at while the consumer holds them open.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from poolimport.core.jobs.log import PrivateRotatingFileHandler
from poolimport.queue.process import stop_worker, worker_command
from poolimport.sim import SimServer
from tests.conftest import PASSWORD
from tests.helpers import wait_for

pytestmark = pytest.mark.xdist_group("consumers")

HELD_OPEN = ("poolimport.db-wal", "poolimport.db-shm", "queue.db-wal", "queue.db-shm")


def poolimport(umask: int, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "poolimport.cli", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=dict(os.environ),
        umask=umask,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def modes(home: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(home.stat().st_mode)}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = stat.S_IMODE(path.stat().st_mode)
    return found


def assert_private(found: dict[str, int], home: Path) -> None:
    for name, mode in found.items():
        wanted = 0o700 if (home / name).is_dir() else 0o600
        assert mode == wanted, f"{name} is {mode:o}, not {wanted:o}"


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_everything_poolimport_creates_is_private(home: Path, sim: SimServer, umask: int) -> None:
    poolimport(umask, "init")
    poolimport(umask, "tenant", "add", "acme")
    add = ("router", "add", "core", "--tenant", "acme", "--host", "127.0.0.1", "--port", str(sim.port))
    poolimport(umask, *add, "--username", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    poolimport(umask, "import", "core", "--sync")
    consumer = subprocess.Popen(
        worker_command(1),
        env=dict(os.environ),
        umask=umask,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        poolimport(umask, "import", "core", "--wait")
        wait_for(lambda: all((home / name).exists() for name in HELD_OPEN), what="WAL and SHM files")
        while_open = modes(home)
    finally:
        stop_worker(consumer)
    poolimport(umask, "key", "rotate")
    found = modes(home) | while_open
    expected = {"poolimport.db", *HELD_OPEN, "queue.db", "logs", "logs/poolimport.log", "secret.key"}
    expected.add("poolimport.db-progress")  # the running jobs' progress files (none left: the jobs ended)
    assert expected <= set(found)
    assert "secret.key.old" in found
    assert_private(found, home)


def test_init_makes_an_older_install_private(home: Path, sim: SimServer) -> None:
    poolimport(0o022, "init")
    poolimport(0o022, "tenant", "add", "acme")
    add = ("router", "add", "core", "--tenant", "acme", "--host", "127.0.0.1", "--port", str(sim.port))
    poolimport(0o022, *add, "--username", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    poolimport(0o022, "import", "core", "--sync")
    poolimport(0o022, "import", "core")  # queued, for no consumer: the queue file is made
    for path in [home, *home.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # as versions before this one left them
    assert {"queue.db", "poolimport.db", "logs/poolimport.log", "secret.key"} <= set(modes(home))
    poolimport(0o022, "init")
    assert_private(modes(home), home)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder under /tmp that every account may enter and list (the test's own tmp_path may not be)."""
    folder = Path(tempfile.mkdtemp(prefix="poolimport-open-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_another_local_account_reads_nothing(
    open_folder: Path, monkeypatch: pytest.MonkeyPatch, sim: SimServer
) -> None:
    """Another account (here `nobody`) tries to list the home and read every file in it, where the
    installation was made under umask 000 in a folder everyone may enter: it is refused each time."""
    if os.geteuid() != 0:
        pytest.skip("acting as another account needs root")
    try:
        other = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no `nobody` account to act as")
    home = open_folder / "home"
    monkeypatch.setenv("POOLIMPORT_HOME", str(home))
    poolimport(0o000, "init")
    poolimport(0o000, "tenant", "add", "acme")
    add = ("router", "add", "core", "--tenant", "acme", "--host", "127.0.0.1", "--port", str(sim.port))
    poolimport(0o000, *add, "--username", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    poolimport(0o000, "import", "core", "--sync")
    poolimport(0o000, "import", "core")  # queued, for no consumer: the queue file is made
    files = [path for path in home.rglob("*") if path.is_file()]
    assert {"poolimport.db", "queue.db", "secret.key", "poolimport.log"} <= {path.name for path in files}

    def as_other(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, user=other.pw_uid, group=other.pw_gid, extra_groups=[], capture_output=True, text=True
        )

    assert as_other("ls", str(open_folder)).stdout == "home\n"  # it may look as far as the home
    for argv in [("ls", str(home)), *(("cat", str(path)) for path in files)]:
        tried = as_other(*argv)
        assert tried.returncode != 0 and "Permission denied" in tried.stderr, argv
        assert tried.stdout == ""


def test_rotated_logs_stay_private(tmp_path: Path) -> None:
    """A rotation renames the log and opens a new one: under umask 000 every file it leaves is 0600."""
    handler = PrivateRotatingFileHandler(tmp_path / "poolimport.log", maxBytes=200, backupCount=2)
    old_umask = os.umask(0)
    try:
        for number in range(20):
            handler.emit(logging.makeLogRecord({"msg": f"line {number} " + "x" * 40}))
    finally:
        os.umask(old_umask)
        handler.close()
    found = modes(tmp_path)
    assert {"poolimport.log", "poolimport.log.1", "poolimport.log.2"} <= set(found)
    assert_private({name: mode for name, mode in found.items() if name != "."}, tmp_path)
