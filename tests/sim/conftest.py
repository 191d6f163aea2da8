from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
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
def sim_factory() -> Iterator[Callable[..., SimServer]]:
    started: list[SimServer] = []

    def factory(config: dict[str, Any] | None = None, **kwargs: Any) -> SimServer:
        sim = SimServer(config if config is not None else make_config(), **kwargs).start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., SimServer]) -> SimServer:
    return sim_factory()


def connect(sim: SimServer, username: str = "admin", password: str = "secret", **kwargs: Any) -> Api:
    kwargs.setdefault("encoding", "utf-8")
    kwargs.setdefault("timeout", 5)
    return librouteros.connect(sim.host, username, password, port=sim.port, **kwargs)


@pytest.fixture
def api(sim: SimServer) -> Iterator[Api]:
    client = connect(sim)
    yield client
    client.close()
