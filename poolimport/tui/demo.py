"""`poolimport demo`: two tenants, three simulated routers, a consumer and the TUI, on throw-away data.

Everything it starts (simulators, the consumer) stops when the TUI quits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from poolimport.core import schema
from poolimport.core.config import load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.routers import RouterFields, add_tenant, save_router
from poolimport.core.secrets import ensure_key_file
from poolimport.core.tenancy import Scope
from poolimport.sim import SimServer
from poolimport.sim.demo_routers import demo_configs

PR_SET_PDEATHSIG = 1
DEMO_PASSWORD = "demo"  # the simulators' password; demo data only
# router name (and its simulator config in demo_configs()) -> tenant
DEMO_ROUTERS = {
    "core-pppoe": "northnet",
    "edge-v6": "northnet",
    "branch-locked": "southwave",
}


def seed(sims: dict[str, SimServer]) -> None:
    """Schema, key file, tenants and routers in the current POOLIMPORT_HOME."""
    settings = load_settings()
    ensure_key_file(settings.key_file)
    engine = get_engine(settings)
    schema.upgrade(engine)
    admin = Scope(operator=settings.operator, tenant_ids=None, role="admin")
    with session_scope(engine) as session:
        for tenant in sorted(set(DEMO_ROUTERS.values())):
            add_tenant(session, admin, tenant)
        for name, tenant in DEMO_ROUTERS.items():
            sim = sims[name]
            fields = RouterFields(name=name, host=sim.host, port=sim.port, username="admin", timeout=5)
            save_router(session, admin, settings, tenant, fields, DEMO_PASSWORD)


def _die_with_parent() -> None:
    """Linux: the consumer gets SIGTERM when the demo dies, even by a dropped SSH session (SIGHUP)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere the normal exit path still stops it


def start_consumer(log_dir: Path) -> subprocess.Popen[bytes]:
    log = (log_dir / "worker.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "poolimport.cli", "worker", "-w", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )


def run_demo() -> int:
    from poolimport.tui.app import PoolImportApp

    configs = demo_configs()
    with tempfile.TemporaryDirectory(prefix="poolimport-demo-") as home, ExitStack() as stack:
        os.environ["POOLIMPORT_HOME"] = home
        for name in ("POOLIMPORT_DATABASE_URL", "POOLIMPORT_QUEUE_URL"):
            os.environ.pop(name, None)
        sims = {name: stack.enter_context(SimServer(configs[name], port=0)) for name in DEMO_ROUTERS}
        seed(sims)
        settings = load_settings()
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        consumer = start_consumer(settings.log_dir)
        stack.callback(dispose_engines)
        stack.callback(stop_process, consumer)
        PoolImportApp(settings).run()
    print("demo stopped: simulators, consumer and the throw-away data are gone")
    return 0


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
