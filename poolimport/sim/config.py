"""Simulator configuration: load JSON/TOML, validate, and normalise to plain data.

The normalised form is a dict with every key present, menus as ``{path: [row, ...]}`` where each
row is a ``dict[str, str]`` carrying a ``.id``. Normalising is idempotent, so a normalised config
can be fed back through `normalize_config` (SimServer does exactly that).

Row values are sent to clients as strings. Non-string TOML/JSON values are converted the way
RouterOS 7 prints them: booleans -> "true"/"false", integers and floats -> ``str(value)``.
Anything else (lists, tables, null) is rejected, because RouterOS has no such attribute type.
"""

from __future__ import annotations

import codecs
import ipaddress
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FAULT_DEFAULTS: dict[str, int | float | bool] = {
    "stall_after_rows": 0,
    "drop_after_rows": 0,
    "fatal_after_rows": 0,
    "row_delay": 0.0,
    "refuse_logins": False,
    "not_routeros": False,
}

_TOP_DEFAULTS: dict[str, Any] = {
    "identity": "MikroTik",
    "version": "7.16.2 (stable)",
    "login": "plain",
    # The message of the trap a failed login gets (a router's own text: tests put escapes in it).
    "login_error": "invalid user name or password (6)",
    "encoding": "utf-8",
    "ipv6": True,
    "send_empty": False,
    "users": [],
    "faults": {},
    "menus": {},
    "generate_used": [],
    # Extra/overriding /system/resource/print fields, e.g. {"board-name": "RB5009"}.
    "resource": {},
    "tls_cert": None,
    "tls_key": None,
}

_LOGIN_MODES = ("plain", "legacy")


def load_config(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Load a .toml/.json file (or take a mapping) and return the validated, normalised config."""
    if isinstance(source, Mapping):
        return normalize_config(source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read config file {path}: {exc}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            raw: Any = tomllib.loads(text)
        elif suffix == ".json":
            raw = json.loads(text)
        else:
            raise ValueError(f"config file {path} must end in .toml or .json")
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid TOML in {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON in {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path} must contain a table/object at top level")
    try:
        return normalize_config(raw)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def normalize_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(_TOP_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
    cfg: dict[str, Any] = {key: raw.get(key, default) for key, default in _TOP_DEFAULTS.items()}

    for key in ("identity", "version", "login_error"):
        cfg[key] = _require(cfg[key], str, key)
    if cfg["login"] not in _LOGIN_MODES:
        raise ValueError(f"login must be one of {', '.join(_LOGIN_MODES)}, got {cfg['login']!r}")
    _require(cfg["encoding"], str, "encoding")
    try:
        codecs.lookup(cfg["encoding"])
    except LookupError:
        raise ValueError(f"encoding: unknown codec {cfg['encoding']!r}") from None
    for key in ("ipv6", "send_empty"):
        _require(cfg[key], bool, key)
    for key in ("tls_cert", "tls_key"):
        if cfg[key] is not None:
            cfg[key] = str(_require(cfg[key], (str, Path), key))

    cfg["users"] = _users(cfg["users"])
    cfg["faults"] = normalize_faults(cfg["faults"])
    cfg["resource"] = _row(_require(cfg["resource"], Mapping, "resource"), "resource")
    menus = {
        path: normalize_rows(path, rows) for path, rows in _require(cfg["menus"], Mapping, "menus").items()
    }
    for i, spec in enumerate(_require(cfg["generate_used"], list, "generate_used")):
        menu, rows = generate_used(spec, where=f"generate_used[{i}]")
        menus[menu] = normalize_rows(menu, [*menus.get(menu, []), *rows])
    cfg["menus"] = menus
    # Generated rows now live in menus; keeping the spec would duplicate them on re-normalising.
    cfg["generate_used"] = []
    return cfg


def normalize_faults(raw: Any) -> dict[str, int | float | bool]:
    _require(raw, Mapping, "faults")
    unknown = sorted(set(raw) - set(FAULT_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(unknown)} (known: {', '.join(FAULT_DEFAULTS)})")
    faults = dict(FAULT_DEFAULTS)
    for name, value in raw.items():
        default = FAULT_DEFAULTS[name]
        if isinstance(default, bool):
            faults[name] = _require(value, bool, f"faults.{name}")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"faults.{name} must be a number >= 0, got {value!r}")
        if isinstance(default, int) and not float(value).is_integer():
            raise ValueError(f"faults.{name} must be a whole number, got {value!r}")
        faults[name] = type(default)(value)
    return faults


def normalize_rows(path: Any, rows: Any) -> list[dict[str, str]]:
    """Validate a menu's rows, stringify values and give every row a RouterOS-style `.id`."""
    if not isinstance(path, str) or not path.startswith("/") or path.endswith("/") or "//" in path:
        raise ValueError(f"menu path must look like '/ip/pool', got {path!r}")
    if path.endswith("/print"):
        raise ValueError(f"menu path {path!r} must not include the command; use {path[:-6]!r}")
    if not isinstance(rows, list):
        raise ValueError(f"menus.{path!r} must be a list of rows, got {type(rows).__name__}")
    result = [_row(row, f"menus.{path!r}[{i}]") for i, row in enumerate(rows)]
    taken = {row[".id"] for row in result if ".id" in row}
    counter = 0
    for i, row in enumerate(result):
        if ".id" in row:
            continue
        counter += 1
        while f"*{counter:X}" in taken:
            counter += 1
        # .id goes first, like RouterOS prints it.
        result[i] = {".id": f"*{counter:X}", **row}
    return result


def generate_used(spec: Any, where: str = "generate_used") -> tuple[str, list[dict[str, str]]]:
    """Expand one ``generate_used`` entry into (menu path, rows).

    IPv4 ``start`` -> /ip/pool/used rows with ``address``; IPv6 ``start`` -> /ipv6/pool/used rows
    with ``prefix`` (consecutive ``prefix_length`` blocks, default /64). Owners are
    ``<owner_prefix>1`` ... and ``info`` is ``<info_prefix>1`` ... (default "pppoe-out").
    """
    _require(spec, Mapping, where)
    allowed = {"pool", "start", "count", "owner_prefix", "info_prefix", "prefix_length"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("pool", "start", "count"):
        if key not in spec:
            raise ValueError(f"{where}: missing required key {key!r}")
    pool = _require(spec["pool"], str, f"{where}.pool")
    count = spec["count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"{where}.count must be an integer >= 0, got {count!r}")
    owner_prefix = _require(spec.get("owner_prefix", "user"), str, f"{where}.owner_prefix")
    info_prefix = _require(spec.get("info_prefix", "pppoe-out"), str, f"{where}.info_prefix")
    try:
        start = ipaddress.ip_address(_require(spec["start"], str, f"{where}.start"))
    except ValueError:
        raise ValueError(f"{where}.start is not an IP address: {spec['start']!r}") from None

    if start.version == 4:
        if int(start) + count - 1 > 0xFFFFFFFF:
            raise ValueError(f"{where}: {count} addresses from {start} run past 255.255.255.255")
        rows = [
            {
                "pool": pool,
                "address": str(start + n),
                "owner": f"{owner_prefix}{n + 1}",
                "info": f"{info_prefix}{n + 1}",
            }
            for n in range(count)
        ]
        return "/ip/pool/used", rows

    plen = spec.get("prefix_length", 64)
    if isinstance(plen, bool) or not isinstance(plen, int) or not 1 <= plen <= 128:
        raise ValueError(f"{where}.prefix_length must be an integer 1..128, got {plen!r}")
    step = 1 << (128 - plen)
    base = ipaddress.ip_network(f"{start}/{plen}", strict=False).network_address
    if int(base) + count * step - 1 > (1 << 128) - 1:
        raise ValueError(f"{where}: {count} prefixes from {base}/{plen} run past the IPv6 space")
    rows = [
        {
            "pool": pool,
            "prefix": f"{base + n * step}/{plen}",
            "owner": f"{owner_prefix}{n + 1}",
            "info": f"{info_prefix}{n + 1}",
        }
        for n in range(count)
    ]
    return "/ipv6/pool/used", rows


def _users(raw: Any) -> list[dict[str, str]]:
    _require(raw, list, "users")
    users = []
    for i, user in enumerate(raw):
        _require(user, Mapping, f"users[{i}]")
        if set(user) != {"name", "password"}:
            raise ValueError(f"users[{i}] needs exactly the keys name and password, got {sorted(user)}")
        users.append(
            {
                "name": _require(user["name"], str, f"users[{i}].name"),
                "password": _require(user["password"], str, f"users[{i}].password"),
            }
        )
    return users


def _row(row: Any, where: str) -> dict[str, str]:
    _require(row, Mapping, where)
    out = {}
    for key, value in row.items():
        if not isinstance(key, str) or not key or "=" in key:
            raise ValueError(f"{where}: attribute name {key!r} must be a non-empty string without '='")
        out[key] = _stringify(value, f"{where}.{key}")
    return out


def _stringify(value: Any, where: str) -> str:
    # bool before int: bool is a subclass of int, and RouterOS 7 prints booleans as true/false.
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"{where}: value must be a string, number or boolean, got {type(value).__name__}")


def _require(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    names = {str: "a string", bool: "true or false", list: "a list", Mapping: "a table/object"}
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        label = names.get(kind, str(kind)) if isinstance(kind, type) else "a path string"
        raise ValueError(f"{where} must be {label}, got {value!r}")
    return value
