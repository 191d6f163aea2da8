"""Three ready-made simulated routers for the demo and the tests."""

from __future__ import annotations

from typing import Any

from poolimport.sim.config import normalize_config

# Demo only: a well-known password for throw-away simulated routers, never for real devices.
DEMO_USERS = [{"name": "admin", "password": "demo"}]


def demo_configs() -> dict[str, dict[str, Any]]:
    """Name -> normalised config (menus fully expanded, rows carry `.id`), fresh on every call."""
    raw: dict[str, dict[str, Any]] = {
        "core-pppoe": {
            "identity": "core-pppoe",
            "version": "7.16.2 (stable)",
            "users": DEMO_USERS,
            "resource": {"board-name": "CCR2116-12G-4S+"},
            "menus": {
                "/ip/pool": [
                    # 100.64.0.2-100.64.255.254 is 65,533 addresses.
                    {
                        "name": "pppoe",
                        "ranges": "100.64.0.2-100.64.255.254",
                        "next-pool": "none",
                        "comment": "PPPoE subscribers",
                    },
                    {
                        "name": "static",
                        "ranges": "10.10.0.0/24,10.10.1.10-10.10.1.20",
                        "next-pool": "none",
                        "comment": "",
                    },
                ],
                "/ipv6/pool": [],
                "/ipv6/pool/used": [],
                "/ppp/secret": [],
            },
            "generate_used": [
                {"pool": "pppoe", "start": "100.64.0.2", "count": 2000, "owner_prefix": "user"},
            ],
        },
        "edge-v6": {
            "identity": "edge-v6",
            "version": "7.15.3 (stable)",
            "users": DEMO_USERS,
            "resource": {"board-name": "RB5009UG+S+"},
            "menus": {
                "/ip/pool": [
                    {
                        "name": "mgmt",
                        "ranges": "192.168.88.10-192.168.88.50",
                        "next-pool": "none",
                        "comment": "",
                    },
                ],
                "/ip/pool/used": [
                    {"pool": "mgmt", "address": "192.168.88.10", "owner": "ap-1", "info": "dhcp1"},
                ],
                "/ipv6/pool": [
                    {
                        "name": "cust-v6",
                        "prefix": "2001:db8:100::/48",
                        "prefix-length": 64,
                        "expires-after": "never",
                    },
                    {
                        "name": "p2p-v6",
                        "prefix": "2001:db8:200::/120",
                        "prefix-length": 128,
                        "expires-after": "never",
                    },
                ],
                "/ipv6/pool/used": [
                    {
                        "pool": "cust-v6",
                        "prefix": f"2001:db8:100:{n:x}::/64",
                        "owner": f"cust{n}",
                        "info": f"pppoe-out{n}",
                    }
                    for n in range(1, 21)
                ]
                + [
                    {
                        "pool": "p2p-v6",
                        "prefix": f"2001:db8:200::{n:x}/128",
                        "owner": f"link{n}",
                        "info": f"ether{n}",
                    }
                    for n in range(1, 6)
                ],
                "/ppp/secret": [],
            },
        },
        "branch-locked": {
            "identity": "branch-locked",
            "version": "6.49.15 (long-term)",
            "users": DEMO_USERS,
            "resource": {"board-name": "hAP ac^2"},
            "faults": {"refuse_logins": True},
            "menus": {
                "/ip/pool": [
                    {
                        "name": "lan",
                        "ranges": "192.168.10.100-192.168.10.200",
                        "next-pool": "none",
                        "comment": "",
                    },
                ],
                "/ip/pool/used": [],
            },
        },
    }
    return {name: normalize_config(cfg) for name, cfg in raw.items()}
