"""The import kinds this installation knows, by the name stored on each job.

A new kind (PPP secrets, DHCP leases) is its own module with an `ImportKind` (see `importer`) and one
line here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from poolimport.core.config import Settings
from poolimport.core.errors import InvalidInput
from poolimport.core.imports.pools.kind import POOLS
from poolimport.core.imports.run import Importer, ImportKind, ImportResult

DEFAULT_KIND = POOLS.name
_KINDS: dict[str, ImportKind] = {POOLS.name: POOLS}


def register(kind: ImportKind) -> ImportKind:
    _KINDS[kind.name] = kind
    return kind


def kind_named(name: str) -> ImportKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise InvalidInput(f"no import kind {name!r} here (known: {', '.join(sorted(_KINDS))})") from None


def run_import(
    engine: Engine, settings: Settings, router_id: int, kind: str = DEFAULT_KIND, **options: Any
) -> ImportResult:
    """One import in this process, outside any job: for tests and tools."""
    return Importer(engine, settings, kind_named(kind), **options).run(router_id)
