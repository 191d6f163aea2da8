"""Read a router's pools into plain, validated pool specs (no database here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field

from poolimport.core.imports.pools.ranges import (
    Ipv4Ranges,
    Ipv6Pool,
    RangeError,
    ipv4_from_str,
    ipv6_from_str,
    parse_ipv4_ranges,
    parse_ipv6_pool,
)
from poolimport.core.routers.api import UNDECODABLE, RouterClient, Row, UnknownMenu

Emit = Callable[[str, str, dict[str, object]], None]
Holder = tuple[str, str]  # (owner, info)
# PostgreSQL text can't hold NUL, and a NUL cut short on the way to a terminal: shown as the NUL symbol
# on every backend alike, so a pool keeps one name whatever the database.
NUL, NUL_SHOWN_AS = "\x00", "\u2400"
# Like UNDECODABLE: a field name RouterOS never sends, listing the fields that held a NUL.
HAD_NUL = ".nul"


@dataclass
class PoolSpec:
    """One pool as the router describes it, with its used addresses keyed by address number."""

    name: str
    family: int
    ranges: str
    prefix_length: int | None
    next_pool: str | None
    comment: str | None
    space: Ipv4Ranges | Ipv6Pool | None = None
    used: dict[int, Holder] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.space.count() if self.space is not None else 0

    def fingerprint(self, max_addresses: int) -> str:
        digest = hashlib.sha256()
        head = [self.family, self.ranges, self.prefix_length, self.next_pool, self.comment, max_addresses]
        digest.update(json.dumps(head).encode())
        for address in sorted(self.used):
            owner, info = self.used[address]
            digest.update(f"\n{address:x}\t{owner}\t{info}".encode())
        return digest.hexdigest()


@dataclass
class RouterSnapshot:
    pools: list[PoolSpec]
    families_read: set[int]
    warnings: list[str]


def _next_pool(row: Row) -> str | None:
    value = row.get("next-pool")
    return None if value in (None, "", "none") else value


def _read(client: RouterClient, path: str) -> Iterator[Row]:
    """The rows of a menu as the router sends them: they are worked on while the next ones arrive."""
    for row in client.rows(path):
        nul_fields = [key for key, value in row.items() if NUL in value]
        for key in nul_fields:
            row[key] = row[key].replace(NUL, NUL_SHOWN_AS)
        if nul_fields:
            row[HAD_NUL] = ",".join(nul_fields)
        yield row


def _odd_text_warnings(fields: dict[str, set[str]], what: str) -> list[str]:
    """One warning per kind of odd text, naming the fields: {UNDECODABLE: {...}, HAD_NUL: {...}}."""
    warnings = []
    if fields.get(UNDECODABLE):
        names = ",".join(sorted(fields[UNDECODABLE]))
        warnings.append(f"{what}: bytes in {names} are not valid in the router's encoding; shown as U+FFFD")
    if fields.get(HAD_NUL):
        names = ",".join(sorted(fields[HAD_NUL]))
        warnings.append(f"{what}: NUL characters in {names}; stored and shown as {NUL_SHOWN_AS}")
    return warnings


def _odd_fields(row: Row, into: dict[str, set[str]]) -> None:
    for marker in (UNDECODABLE, HAD_NUL):
        if row.get(marker):
            into.setdefault(marker, set()).update(row[marker].split(","))


def _ipv4_spec(row: Row) -> PoolSpec:
    spec = PoolSpec(
        name=row.get("name", ""),
        family=4,
        ranges=row.get("ranges", ""),
        prefix_length=None,
        next_pool=_next_pool(row),
        comment=row.get("comment"),
    )
    try:
        spec.space = parse_ipv4_ranges(spec.ranges)
    except RangeError as exc:
        spec.error = str(exc)
    return spec


def _ipv6_spec(row: Row) -> PoolSpec:
    spec = PoolSpec(
        name=row.get("name", ""),
        family=6,
        ranges=row.get("prefix", ""),
        prefix_length=None,
        next_pool=None,
        comment=row.get("comment"),
    )
    try:
        space = parse_ipv6_pool(spec.ranges, row.get("prefix-length", ""))
        spec.space, spec.prefix_length = space, space.prefix_length
    except RangeError as exc:
        spec.error = str(exc)
    return spec


def _attach_used(specs: dict[str, PoolSpec], rows: Iterable[Row], key: str, warnings: list[str]) -> None:
    parse = ipv4_from_str if key == "address" else ipv6_from_str
    skipped: dict[str, int] = {}
    odd: dict[str, dict[str, set[str]]] = {}
    for row in rows:
        spec = specs.get(row.get("pool", ""))
        if spec is None or spec.space is None:
            continue
        if UNDECODABLE in row or HAD_NUL in row:  # rare: no dict per row for the others
            _odd_fields(row, odd.setdefault(spec.name, {}))
        try:
            address = parse(row.get(key, ""))
        except RangeError:
            skipped[spec.name] = skipped.get(spec.name, 0) + 1
            continue
        if address not in spec.space:
            skipped[spec.name] = skipped.get(spec.name, 0) + 1
            continue
        spec.used[address] = (row.get("owner", ""), row.get("info", ""))
    for name, count in skipped.items():
        warnings.append(f"pool {name}: {count} used entries are not addresses of the pool; ignored")
    for name, fields in odd.items():
        warnings.extend(_odd_text_warnings(fields, f"pool {name}: used entries"))


def _collect(rows: Iterable[Row], build: Callable[[Row], PoolSpec], kind: str) -> list[PoolSpec]:
    return list(_build_specs(rows, build, kind))


def _by_name(specs: list[PoolSpec]) -> dict[str, PoolSpec]:
    named: dict[str, PoolSpec] = {}
    for spec in specs:
        named.setdefault(spec.name, spec)
    return named


def _build_specs(rows: Iterable[Row], build: Callable[[Row], PoolSpec], kind: str) -> Iterator[PoolSpec]:
    seen: set[str] = set()
    for row in rows:
        spec = build(row)
        if not spec.name:
            spec.name = f"<unnamed {kind} pool {row.get('.id', '?')}>"
            spec.error = "the router sent a pool without a name"
        elif spec.name in seen:
            spec.error = "the router sent two pools with this name"
        seen.add(spec.name)
        fields: dict[str, set[str]] = {}
        _odd_fields(row, fields)
        spec.warnings.extend(_odd_text_warnings(fields, f"pool {spec.name}"))
        yield spec


def read_snapshot(client: RouterClient) -> RouterSnapshot:
    """Everything we import from one router; RouterError when the IPv4 menus can't be read."""
    warnings: list[str] = []
    ipv4 = _collect(_read(client, "/ip/pool"), _ipv4_spec, "IPv4")
    _attach_used(_by_name(ipv4), _read(client, "/ip/pool/used"), "address", warnings)
    families = {4}
    ipv6: list[PoolSpec] = []
    try:
        ipv6 = _collect(_read(client, "/ipv6/pool"), _ipv6_spec, "IPv6")
        families.add(6)
    except UnknownMenu:
        warnings.append("router has no /ipv6/pool menu (IPv6 disabled?): IPv6 pools skipped")
    if ipv6:
        # Older RouterOS has no used-list for IPv6; every prefix then counts as free.
        with suppress(UnknownMenu):
            _attach_used(_by_name(ipv6), _read(client, "/ipv6/pool/used"), "prefix", warnings)
    return RouterSnapshot(pools=ipv4 + ipv6, families_read=families, warnings=warnings)
