"""Shared set-up for the benchmarks: a throw-away home, a migrated database and a simulator subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SIM_PASSWORD = "bench"


def sim_config(pools: list[dict[str, str]], used: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "identity": "bench",
        "users": [{"name": "admin", "password": SIM_PASSWORD}],
        "menus": {"/ip/pool": pools, "/ip/pool/used": used or [], "/ipv6/pool": [], "/ipv6/pool/used": []},
    }


@contextmanager
def sim_process(config: dict[str, Any]) -> Iterator[int]:
    """A simulator in its own process, so its CPU and memory are not counted as the importer's."""
    with tempfile.TemporaryDirectory() as tmp:
        config_file, port_file = Path(tmp) / "sim.json", Path(tmp) / "port"
        config_file.write_text(json.dumps(config))
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
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not port_file.exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("simulator did not start")
                time.sleep(0.02)
            yield int(port_file.read_text())
        finally:
            proc.terminate()
            proc.wait()


@contextmanager
def bench_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["POOLIMPORT_HOME"] = tmp
        os.environ.pop("POOLIMPORT_DATABASE_URL", None)
        yield Path(tmp)


def setup_router(port: int) -> tuple[Any, Any, int]:
    """(engine, settings, router_id) in the current POOLIMPORT_HOME."""
    from poolimport.core import schema
    from poolimport.core.access.tenancy import Scope
    from poolimport.core.config import load_settings
    from poolimport.core.db import get_engine, session_scope
    from poolimport.core.routers.fields import RouterFields
    from poolimport.core.routers.records import add_tenant, save_router
    from poolimport.core.secrets.box import ensure_key_file

    settings = load_settings()
    ensure_key_file(settings.key_file)
    engine = get_engine(settings)
    schema.upgrade(engine)
    admin = Scope(operator="bench", tenant_ids=None, role="admin")
    with session_scope(engine) as session:
        add_tenant(session, admin, "bench")
        fields = RouterFields(name="bench", host="127.0.0.1", port=port, username="admin", timeout=60)
        router_id = save_router(session, admin, settings, "bench", fields, SIM_PASSWORD).id
    return engine, settings, router_id
