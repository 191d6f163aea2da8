"""MikroTik RouterOS API simulator speaking the real wire protocol (for tests and demos).

from poolimport.sim import SimServer, load_config
with SimServer(load_config("router.toml"), port=0) as sim:
    librouteros.connect(sim.host, "admin", "secret", port=sim.port)
"""

from poolimport.sim.config import load_config
from poolimport.sim.server import Faults, SimServer

__all__ = ["Faults", "SimServer", "load_config"]
