"""Every statement of the README's Security section is a test: it names the tests that prove it, and those
tests exist. Read without importing them (tests.readme), so the check is quick."""

from __future__ import annotations

from tests.readme import SSHD_CONFIG, collected_tests, read_section, security_section


def where(line: int, text: str) -> str:
    return f"README.md:{line}: {text[:90]}"


def test_every_statement_names_the_tests_that_prove_it() -> None:
    section = security_section()
    assert len(section.statements) > 20
    unproved = [where(s.line, s.text) for s in section.statements if not s.tests]
    assert unproved == [], "statements that name no test (end each with [test_name](tests/…/test_x.py))"
    # A table's rows are not read as statements: none may hide a claim there.
    assert section.tables == (), f"tables at README.md lines {section.tables}: write statements as list items"


def test_every_test_a_statement_names_exists() -> None:
    missing = [
        where(statement.line, f"{path}::{name}")
        for statement in security_section().statements
        for path, name in statement.tests
        if name not in collected_tests(path)
    ]
    assert missing == [], "tests named in the Security section that are not there"


def test_the_section_gives_the_sshd_config_the_ssh_tests_run() -> None:
    config = security_section().code[SSHD_CONFIG]
    assert "Match User poolimport\n" in config and "DisableForwarding yes" in config


SAMPLE = """\
# poolimport

A claim outside the section needs nothing.

## Security

A statement naming its test. [test_x](tests/unit/test_readme_security.py)

- An item that names none.
- An item over two lines
  that names one. [test_y](tests/unit/test_a.py), [not_a_test](tests/unit/test_b.py)

```sshd_config
Match User poolimport
```

| a | table |
|---|---|

## Speed

Not read either.
"""


def test_the_reader_finds_statements_their_tests_code_and_tables() -> None:
    section = read_section(SAMPLE)
    assert [(s.line, s.tests) for s in section.statements] == [
        (7, (("tests/unit/test_readme_security.py", "test_x"),)),
        (9, ()),
        (10, (("tests/unit/test_a.py", "test_y"), ("tests/unit/test_b.py", "not_a_test"))),
    ]
    assert section.statements[2].text.startswith("- An item over two lines that names one.")
    assert section.code == {"sshd_config": "Match User poolimport\n"}
    assert section.tables == (18,)


def test_only_collected_test_functions_count() -> None:
    here = collected_tests("tests/unit/test_readme_security.py")
    assert "test_only_collected_test_functions_count" in here
    assert "where" not in here  # a helper, not a test
    assert collected_tests("tests/readme.py") == frozenset()  # not a test module
    assert collected_tests("tests/unit/test_no_such_file.py") == frozenset()
