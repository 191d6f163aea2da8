"""The README's Security section as its tests read it: the statements it makes, each with the tests it names
as its proof, and the sshd_config it tells administrators to use (which the SSH tests run).

A statement is a paragraph or a list item of the section. It names its tests as Markdown links whose text is
the test function and whose target is the test file: [test_name](tests/ssh/test_ssh.py).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## Security"
REFERENCE = re.compile(r"\[(?P<name>[^\]]*)\]\((?P<path>tests/[^)#\s]*)\)")
FENCE = "```"
SSHD_CONFIG = "sshd_config"  # the fenced block's language
# The README names the service account `poolimport`; the tests run sshd for the account running them.
SERVICE_ACCOUNT_LINE = "Match User poolimport"


@dataclass(frozen=True)
class Statement:
    line: int  # where it starts in README.md, 1-based
    text: str
    tests: tuple[tuple[str, str], ...]  # (test file, test function) as named


@dataclass(frozen=True)
class Section:
    statements: tuple[Statement, ...]
    code: dict[str, str]  # fenced blocks by language (the last of each)
    tables: tuple[int, ...]  # lines where a table starts: not a form the check reads


def _section_lines(text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        raise AssertionError(f"README.md has no {SECTION!r} section") from None
    section = []
    for number, line in enumerate(lines[start + 1 :], start + 2):
        if line.startswith("## "):
            break
        section.append((number, line))
    return section


def read_section(text: str) -> Section:
    statements: list[Statement] = []
    code: dict[str, str] = {}
    tables: list[int] = []
    block: list[str] = []
    block_line = 0
    fence: str | None = None
    fenced: list[str] = []

    def close() -> None:
        if block:
            joined = " ".join(part.strip() for part in block)
            named = tuple((m["path"], m["name"]) for m in REFERENCE.finditer(joined))
            statements.append(Statement(block_line, joined, named))
            block.clear()

    for number, line in _section_lines(text):
        if fence is not None:
            if line.strip() == FENCE:
                code[fence] = "\n".join(fenced) + "\n"
                fence = None
            else:
                fenced.append(line)
            continue
        if line.startswith(FENCE):
            close()
            fence, fenced = line[len(FENCE) :].strip(), []
        elif not line.strip() or line.startswith("#"):
            close()
        elif line.startswith("|"):
            close()
            if not tables or tables[-1] != number - 1:
                tables.append(number)
            else:
                tables[-1] = number  # the table goes on; keep its last line to tell where it ends
        elif re.match(r"(- |\d+\. )", line):
            close()
            block_line = number
            block.append(line)
        else:
            if not block:
                block_line = number
            block.append(line)
    close()
    return Section(tuple(statements), code, tuple(tables))


@cache
def security_section() -> Section:
    return read_section(README.read_text(encoding="utf-8"))


@cache
def collected_tests(path: str) -> frozenset[str]:
    """The test functions pytest collects at the top of a test file (empty when there is no such file)."""
    file = ROOT / path
    if not (file.is_file() and file.name.startswith("test_") and file.suffix == ".py"):
        return frozenset()
    tree = ast.parse(file.read_text(encoding="utf-8"))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return frozenset(n.name for n in tree.body if isinstance(n, kinds) and n.name.startswith("test_"))


def sshd_config(account: str) -> str:
    """The README's sshd_config, for the service account `account` instead of `poolimport`."""
    config = security_section().code.get(SSHD_CONFIG)
    if config is None:
        raise AssertionError(f"README.md's Security section has no ```{SSHD_CONFIG} block")
    lines = config.splitlines()
    if lines.count(SERVICE_ACCOUNT_LINE) != 1:
        raise AssertionError(f"README.md's sshd_config must hold the line {SERVICE_ACCOUNT_LINE!r} once")
    ours = [f"Match User {account}" if line == SERVICE_ACCOUNT_LINE else line for line in lines]
    return "\n".join(ours) + "\n"
