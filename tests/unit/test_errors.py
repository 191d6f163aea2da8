"""One base for every expected failure: the CLI and the TUI each present `PoolimportError` in one place,
so an exception outside it would reach an operator as a traceback or an "unexpected error"."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import poolimport
from poolimport.core.errors import PoolimportError, Refusal

INTERNAL = {
    # Control flow inside one import, never shown: the runner turns it into the job's outcome.
    "poolimport.core.imports.run.ImportStopped",
    # One of librouteros's own errors, raised inside its reader; the client turns it into a RouterError.
    "poolimport.core.routers.api.NotRouterOS",
}
# The simulator stands in for a router; its errors are the router's, not poolimport's.
OUTSIDE = ("poolimport.sim",)


def _exceptions_defined_in_poolimport() -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.walk_packages(poolimport.__path__, "poolimport."):
        if (
            module_info.name.startswith(OUTSIDE)
            or ".migrations" in module_info.name
            or module_info.name.endswith("__main__")
        ):
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_exception_poolimport_defines_is_an_expected_failure() -> None:
    strays = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _exceptions_defined_in_poolimport()
        if not issubclass(cls, PoolimportError)
        and f"{cls.__module__}.{cls.__qualname__}" not in INTERNAL
        and not cls.__qualname__.startswith("_")
    ]
    assert strays == []


@pytest.mark.parametrize(
    "name",
    [
        "poolimport.core.access.tenancy.AccessDenied",
        "poolimport.core.access.tenancy.NotFound",
        "poolimport.core.jobs.lifecycle.JobRefused",
        "poolimport.core.errors.InvalidInput",
        "poolimport.core.access.ssh_keys.InvalidKey",
    ],
)
def test_refused_requests_are_refusals_and_so_audited(name: str) -> None:
    module, _, cls = name.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), cls), Refusal)


@pytest.mark.parametrize(
    "name",
    [
        "poolimport.core.db.DatabaseError",
        "poolimport.core.config.ConfigError",
        "poolimport.core.schema.SchemaNotReady",
    ],
)
def test_faults_are_not_refusals(name: str) -> None:
    """A database that can't be reached is not the operator's refused request, and can't be audited."""
    module, _, cls = name.rpartition(".")
    assert not issubclass(getattr(importlib.import_module(module), cls), Refusal)
