"""What the `poolimport` command loads before it does anything: `--help` and a usage error cost argparse and
no more, and the read-only lists load the database layer and nothing of the import, the queue or the TUI.
A module imported at the top of a command module would load for every command; these tests name it.

Structural, not timed: each case runs in a fresh interpreter and lists the modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

# Each one costs a tenth of a second or more to import, or loads such a package.
HEAVY = ("sqlalchemy", "huey", "textual", "cryptography", "alembic", "librouteros", "redis", "psycopg")
# Loaded by the database layer: the rest is what reading a list must not pull in.
DATABASE = ("sqlalchemy",)
# What lists need neither: the import itself (router client, pool writer), the queue, the TUI, migrations.
NOT_FOR_LISTS = (
    *(name for name in HEAVY if name not in DATABASE),
    "poolimport.core.imports.run",
    "poolimport.core.imports.pools.writer",
    "poolimport.core.routers.api",
    "poolimport.queue",
    "poolimport.tui",
    "poolimport.sim",
)

RUN_AND_LIST = """
import json, sys
from poolimport.cli import build_parser, main
try:
    {statement}
except SystemExit:
    pass
with open(sys.argv[1], "w") as listing:
    json.dump(sorted(sys.modules), listing)
"""


def modules_loaded(statement: str, listing: Path) -> list[str]:
    """The modules a fresh interpreter holds after importing the CLI and running `statement`."""
    script = RUN_AND_LIST.format(statement=statement)
    subprocess.run([sys.executable, "-c", script, str(listing)], capture_output=True, timeout=60, check=True)
    return list(json.loads(listing.read_text()))


def loaded_of(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """Which of `names` (packages or modules) are among `modules`."""
    return sorted({name for name in names for module in modules if (module + ".").startswith(name + ".")})


def test_building_the_parser_loads_nothing_heavy(tmp_path: Path) -> None:
    assert loaded_of(modules_loaded("build_parser()", tmp_path / "modules.json"), HEAVY) == []


@pytest.mark.parametrize("argv", [["--help"], ["jobs", "--help"], ["router", "add", "--help"], ["nosuch"]])
def test_help_and_usage_errors_load_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    assert loaded_of(modules_loaded(f"main({argv!r})", tmp_path / "modules.json"), HEAVY) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["jobs", "--json"],
        ["failed", "--json"],
        ["router", "list", "--json"],
        ["tenant", "list", "--json"],
        ["operator", "list", "--json"],
        ["schedule", "list", "--json"],
    ],
)
def test_lists_load_the_database_layer_and_nothing_of_the_import_or_the_queue(
    argv: list[str], engine: Engine, tmp_path: Path
) -> None:
    modules = modules_loaded(f"main({argv!r})", tmp_path / "modules.json")
    assert "poolimport.core.db" in modules  # the list did run: it read the database
    assert loaded_of(modules, NOT_FOR_LISTS) == []
