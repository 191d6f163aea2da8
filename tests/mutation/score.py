"""Mutation score of the last `mutmut run` (what `make mutate` prints), checked against equivalent.md.

Every mutant that no test kills must be listed in equivalent.md with its change and why no test can
tell it from the original. A listed change that no longer matches the mutant of that name (the function
was edited, the mutants were renumbered) counts as unexplained, so the list can't go stale silently.
Exit status 1 when the score is below the bar or a survivor is unexplained.

Run from the repository root after `mutmut run`.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

BAR = 85.0
EQUIVALENT = Path(__file__).with_name("equivalent.md")
# A timeout, or the kill that ends a runaway mutant, means the tests noticed it.
DETECTED = {"killed", "timeout", "segfault"}
_ENTRY = re.compile(r"^- `(?P<name>[^`]+)` ``(?P<change>.*)``$")


@dataclass
class Module:
    path: str
    total: int = 0
    killed: int = 0
    equivalent: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)


def change_of(mutant: str, path: str) -> str:
    """The mutated code on one line: the added lines, or what was removed when nothing was added."""
    lines = get_diff_for_mutant(mutant, path=path).splitlines()[2:]
    added = [line[1:].strip() for line in lines if line.startswith("+")]
    removed = [line[1:].strip() for line in lines if line.startswith("-")]
    return " / ".join(added) if added else "removed: " + " / ".join(removed)


def read_equivalent() -> dict[str, str]:
    """Mutant name -> its recorded change. An entry is "- `name` ``change``" with its reason below it."""
    listed: dict[str, str] = {}
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        match = _ENTRY.match(line)
        if match:
            listed[match["name"]] = match["change"]
    return listed


def score(module_paths: list[str]) -> tuple[list[Module], list[str]]:
    listed = read_equivalent()
    modules, problems = [], []
    for path in module_paths:
        meta = Path("mutants") / f"{path}.meta"
        if not meta.exists():
            problems.append(f"{path}: no results (did `mutmut run` finish?)")
            continue
        module = Module(path)
        for mutant, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[exit_code]
            module.total += 1
            if status == "not checked":
                problems.append(f"{mutant}: not checked (the run was interrupted?)")
            elif status in DETECTED:
                module.killed += 1
            elif mutant not in listed:
                module.unexplained.append(f"{mutant} ({status})")
            elif listed[mutant] != change_of(mutant, path):
                module.unexplained.append(f"{mutant} ({status}; equivalent.md lists another change for it)")
            else:
                module.equivalent.append(mutant)
        modules.append(module)
    return modules, problems


def main() -> int:
    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    modules, problems = score(config["only_mutate"])
    columns = ("mutants", "killed", "equivalent", "unexplained", "score")
    print(f"\n{'module':<32} " + " ".join(f"{column:>11}" for column in columns))
    for m in modules:
        print(
            f"{m.path:<32} {m.total:>11} {m.killed:>11} {len(m.equivalent):>11} {len(m.unexplained):>11}"
            f" {100 * m.killed / max(m.total, 1):>10.1f}%"
        )
    total = sum(m.total for m in modules)
    killed = sum(m.killed for m in modules)
    percent = 100 * killed / max(total, 1)
    print(f"\nmutation score: {killed}/{total} mutants killed ({percent:.1f}%, the bar is {BAR:.0f}%)")
    unexplained = [name for m in modules for name in m.unexplained]
    for name in unexplained:
        print(f"  survived, not in {EQUIVALENT.name}: {name}")
    if unexplained:
        print(f"kill each with a test, or list it in {EQUIVALENT} (see `mutmut show NAME`)")
    for problem in problems:
        print(f"  {problem}")
    return 0 if percent >= BAR and not unexplained and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
