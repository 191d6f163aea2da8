from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import librouteros
import pytest

from poolimport.sim import SimServer, cli
from tests.helpers import wait_for
from tests.sim.conftest import make_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _wait_for_port(port_file: Path, proc: subprocess.Popen[str], timeout: float = 10.0) -> int:
    def written() -> int | None:
        if proc.poll() is not None:
            raise AssertionError(f"sim exited early: {proc.communicate()[1]}")
        return int(port_file.read_text()) if port_file.exists() else None  # written atomically

    return int(wait_for(written, timeout, "the sim to write its port file"))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "router.json"
    path.write_text(json.dumps(make_config()))
    return path


@pytest.fixture
def sim_process(config_file: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "poolimport.sim",
            "--config",
            str(config_file),
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=REPO_ROOT,
    )
    yield proc, port_file
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_until_signalled(sim_process: tuple[subprocess.Popen[str], Path], sig: int) -> None:
    proc, port_file = sim_process
    port = _wait_for_port(port_file, proc)
    api = librouteros.connect("127.0.0.1", "admin", "secret", port=port, timeout=5)
    assert tuple(api.path("/system/identity")) == ({"name": "core-1"},)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=10)
    api.close()
    assert proc.returncode == 0
    assert stderr.strip() == f"sim: listening on 127.0.0.1:{port} (core-1)"
    assert not list(port_file.parent.glob(".port.*"))  # no leftover temp file


def test_cli_bad_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('login = "oauth"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "poolimport.sim", "--config", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO_ROOT,
        timeout=30,
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "login must be one of" in lines[0]


def test_run_in_process_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["--config", str(tmp_path / "nope.toml"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read config file") and err.count("\n") == 1


def test_run_in_process_port_in_use(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SimServer(make_config()) as taken:
        assert cli.run(["--config", str(config_file), "--port", str(taken.port)]) == 2
    assert capsys.readouterr().err.startswith("error: cannot listen on")


def test_run_in_thread_stops_on_event(config_file: Path, tmp_path: Path) -> None:
    port_file = tmp_path / "sub" / "port"
    port_file.parent.mkdir()
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            cli.run(["--config", str(config_file), "--port", "0", "--port-file", str(port_file)], stop=stop)
        )
    )
    thread.start()
    try:
        wait_for(port_file.exists, 10, "the port file")
        api = librouteros.connect("127.0.0.1", "admin", "secret", port=int(port_file.read_text()), timeout=5)
        api.close()
    finally:
        stop.set()
        thread.join(5)
    assert result == [0]
