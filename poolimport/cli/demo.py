"""`poolimport demo`: two tenants, three simulated routers, a consumer and the TUI, on throw-away data.

Everything it starts (simulators, the consumer) stops when the TUI quits. A composition root, like the
CLI it belongs to: it wires the simulator, the queue and the TUI, which never import one another.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack

from poolimport.core import schema
from poolimport.core.access.operators import add_operator, register_first_admin
from poolimport.core.access.tenancy import Scope
from poolimport.core.config import load_settings
from poolimport.core.db import dispose_engines, get_engine, session_scope
from poolimport.core.routers.fields import RouterFields
from poolimport.core.routers.records import add_tenant, save_router
from poolimport.core.secrets.box import ensure_key_file
from poolimport.queue.process import spawn_worker, stop_worker
from poolimport.sim import SimServer
from poolimport.sim.demo_routers import demo_configs

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
        # Whoever runs the demo administers its throw-away data, and so does anyone they act as.
        register_first_admin(session, settings.identity)
        if settings.identity.acting_as:
            add_operator(session, admin, settings.identity.acting_as, None, "admin")
        for tenant in sorted(set(DEMO_ROUTERS.values())):
            add_tenant(session, admin, tenant)
        for name, tenant in DEMO_ROUTERS.items():
            sim = sims[name]
            fields = RouterFields(name=name, host=sim.host, port=sim.port, username="admin", timeout=5)
            save_router(session, admin, settings, tenant, fields, DEMO_PASSWORD)


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
        consumer = spawn_worker(2, (settings.log_dir / "worker.log").open("ab"))
        stack.callback(dispose_engines)
        stack.callback(stop_worker, consumer)
        app = PoolImportApp(settings)
        app.run()
    print("demo stopped: simulators, consumer and the throw-away data are gone")
    return app.return_code or 0  # not 0 after a crash
