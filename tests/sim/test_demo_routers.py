from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from librouteros.exceptions import TrapError

from poolimport.sim.demo_routers import demo_configs
from tests.sim.conftest import connect


def test_demo_configs_shape() -> None:
    configs = demo_configs()
    assert set(configs) == {"core-pppoe", "edge-v6", "branch-locked"}
    assert all(cfg["users"] == [{"name": "admin", "password": "demo"}] for cfg in configs.values())
    core = configs["core-pppoe"]["menus"]
    pppoe = next(row for row in core["/ip/pool"] if row["name"] == "pppoe")
    first, last = (ipaddress.ip_address(a) for a in pppoe["ranges"].split("-"))
    assert int(last) - int(first) + 1 == 65533
    assert 1500 <= len(core["/ip/pool/used"]) <= 2500
    assert configs["branch-locked"]["faults"]["refuse_logins"] is True


def test_demo_routers_serve(sim_factory: Any) -> None:
    configs = demo_configs()
    core = sim_factory(configs["core-pppoe"])
    api = connect(core, password="demo")
    assert len(tuple(api.path("/ip/pool/used"))) == len(configs["core-pppoe"]["menus"]["/ip/pool/used"])
    api.close()

    edge = sim_factory(configs["edge-v6"])
    api = connect(edge, password="demo")
    pools = {row["name"]: row for row in api.path("/ipv6/pool")}
    assert pools["cust-v6"]["prefix"] == "2001:db8:100::/48" and pools["cust-v6"]["prefix-length"] == 64
    assert pools["p2p-v6"]["prefix-length"] == 128
    assert all("prefix" in row for row in api.path("/ipv6/pool/used"))
    api.close()

    locked = sim_factory(configs["branch-locked"])
    with pytest.raises(TrapError):
        connect(locked, password="demo")
