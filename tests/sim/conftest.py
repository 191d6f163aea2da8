from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import librouteros
import pytest
from librouteros.api import Api

from poolimport.sim import SimServer

BASE_CONFIG: dict[str, Any] = {
    "identity": "core-1",
    "version": "7.16.2 (stable)",
    "users": [{"name": "admin", "password": "secret"}],
    "menus": {
        "/ip/pool": [
            {"name": "pppoe", "ranges": "100.64.0.2-100.64.255.254", "next-pool": "none", "comment": ""},
            {"name": "static", "ranges": "10.10.0.0/24", "next-pool": "none", "comment": "fixed"},
        ],
        "/ip/pool/used": [
            {"pool": "pppoe", "address": f"100.64.0.{n}", "owner": f"user{n}", "info": f"pppoe-out{n}"}
            for n in range(2, 12)
        ]
        + [{"pool": "static", "address": "10.10.0.5", "owner": "printer", "info": "dhcp"}],
        "/ipv6/pool": [{"name": "v6", "prefix": "2001:db8::/48", "prefix-length": "64"}],
        "/ipv6/pool/used": [],
        "/ppp/secret": [],
    },
}


def make_config(**overrides: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(BASE_CONFIG)
    cfg.update(overrides)
    return cfg


@pytest.fixture
def sim_config() -> dict[str, Any]:
    """The simulator tests' own router, bigger than the root's: the root's sim fixtures start it."""
    return make_config()


def connect(sim: SimServer, username: str = "admin", password: str = "secret", **kwargs: Any) -> Api:
    kwargs.setdefault("encoding", "utf-8")
    kwargs.setdefault("timeout", 5)
    return librouteros.connect(sim.host, username, password, port=sim.port, **kwargs)


@pytest.fixture
def api(sim: SimServer) -> Iterator[Api]:
    client = connect(sim)
    yield client
    client.close()
