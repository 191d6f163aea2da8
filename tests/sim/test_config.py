from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from poolimport.sim import load_config
from poolimport.sim.config import normalize_config

SAMPLE_TOML = """
identity = "core-1"
version = "7.16.2 (stable)"
login = "plain"
encoding = "utf-8"
ipv6 = true
send_empty = false
[[users]]
name = "admin"
password = "secret"
[faults]
row_delay = 0.5
stall_after_rows = 3
[menus]
"/ip/pool" = [ { name = "pppoe", ranges = "100.64.0.2-100.64.255.254", "next-pool" = "none", comment = "" } ]
"/ip/pool/used" = [ { pool = "pppoe", address = "100.64.0.5", owner = "alice", info = "pppoe-out1" } ]
"/ipv6/pool" = [ { name = "v6", prefix = "2001:db8::/48", "prefix-length" = 64, disabled = false } ]
"/ipv6/pool/used" = []
"/ppp/secret" = []
[[generate_used]]
pool = "pppoe"
start = "100.64.0.10"
count = 3
owner_prefix = "user"
"""


def test_loads_toml(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(SAMPLE_TOML)
    cfg = load_config(path)
    assert cfg["identity"] == "core-1"
    assert cfg["users"] == [{"name": "admin", "password": "secret"}]
    assert cfg["faults"]["row_delay"] == 0.5
    assert cfg["faults"]["stall_after_rows"] == 3
    assert cfg["faults"]["refuse_logins"] is False
    assert cfg["menus"]["/ip/pool"][0][".id"] == "*1"
    # int -> str(int), bool -> "true"/"false", as RouterOS 7 prints them
    assert cfg["menus"]["/ipv6/pool"][0]["prefix-length"] == "64"
    assert cfg["menus"]["/ipv6/pool"][0]["disabled"] == "false"
    used = cfg["menus"]["/ip/pool/used"]
    assert [row["address"] for row in used] == ["100.64.0.5", "100.64.0.10", "100.64.0.11", "100.64.0.12"]
    assert [row["owner"] for row in used[1:]] == ["user1", "user2", "user3"]
    assert [row[".id"] for row in used] == ["*1", "*2", "*3", "*4"]


def test_loads_json_with_same_shape(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"identity": "j", "menus": {"/ip/pool": [{"name": "a", "mtu": 1500}]}}))
    cfg = load_config(path)
    assert cfg["identity"] == "j"
    assert cfg["menus"]["/ip/pool"] == [{".id": "*1", "name": "a", "mtu": "1500"}]
    assert cfg["login"] == "plain" and cfg["ipv6"] is True


def test_ids_are_hex_and_skip_explicit_ones() -> None:
    rows = [{"name": str(n)} for n in range(11)] + [{".id": "*2", "name": "fixed"}]
    cfg = normalize_config({"menus": {"/ip/pool": rows}})
    ids = [row[".id"] for row in cfg["menus"]["/ip/pool"]]
    assert ids[:3] == ["*1", "*3", "*4"]
    assert "*A" in ids and "*C" in ids and ids[-1] == "*2"
    assert len(set(ids)) == len(ids)


def test_normalising_is_idempotent() -> None:
    raw: dict[str, Any] = {"generate_used": [{"pool": "p", "start": "10.0.0.1", "count": 5}]}
    once = normalize_config(raw)
    assert normalize_config(once) == once
    assert len(once["menus"]["/ip/pool/used"]) == 5


def test_generate_ipv6_prefixes() -> None:
    spec = {"pool": "v6", "start": "2001:db8:100::", "count": 3, "prefix_length": 64, "owner_prefix": "c"}
    cfg = normalize_config({"generate_used": [spec]})
    rows = cfg["menus"]["/ipv6/pool/used"]
    assert [r["prefix"] for r in rows] == ["2001:db8:100::/64", "2001:db8:100:1::/64", "2001:db8:100:2::/64"]
    assert rows[2]["owner"] == "c3"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"identiy": "x"}, "unknown config key(s): identiy"),
        ({"login": "kerberos"}, "login must be one of plain, legacy"),
        ({"encoding": "klingon"}, "unknown codec"),
        ({"ipv6": "yes"}, "ipv6 must be true or false"),
        ({"faults": {"stall_after": 1}}, "unknown fault(s): stall_after"),
        ({"faults": {"row_delay": -1}}, "faults.row_delay must be a number >= 0"),
        ({"faults": {"drop_after_rows": 1.5}}, "must be a whole number"),
        ({"faults": {"refuse_logins": 1}}, "faults.refuse_logins must be true or false"),
        ({"users": [{"name": "a"}]}, "users[0] needs exactly the keys name and password"),
        ({"menus": {"ip/pool": []}}, "menu path must look like '/ip/pool'"),
        ({"menus": {"/ip/pool/print": []}}, "must not include the command"),
        ({"menus": {"/ip/pool": {"name": "x"}}}, "must be a list of rows"),
        ({"menus": {"/ip/pool": ["x"]}}, "menus.'/ip/pool'[0] must be a table/object"),
        ({"menus": {"/ip/pool": [{"name": [1]}]}}, "value must be a string, number or boolean"),
        ({"generate_used": [{"pool": "p", "count": 1}]}, "missing required key 'start'"),
        ({"generate_used": [{"pool": "p", "start": "nope", "count": 1}]}, "is not an IP address"),
        ({"generate_used": [{"pool": "p", "start": "255.255.255.255", "count": 2}]}, "run past"),
    ],
)
def test_validation_errors_are_clear(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        load_config(raw)
    assert message in str(info.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("identity = \n")
    with pytest.raises(ValueError, match="invalid TOML in .*bad.toml"):
        load_config(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must contain a table/object"):
        load_config(bad_json)
    other = tmp_path / "r.yaml"
    other.write_text("a: 1")
    with pytest.raises(ValueError, match=r"must end in \.toml or \.json"):
        load_config(other)
    typo = tmp_path / "typo.toml"
    typo.write_text('login = "oauth"\n')
    with pytest.raises(ValueError, match="typo.toml: login must be one of"):
        load_config(typo)
