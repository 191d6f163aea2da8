"""The main screen's `:` commands: what each line means, what it completes to, one message for the rest."""

from __future__ import annotations

import pytest

from poolimport.tui.command import (
    HELP,
    CommandError,
    ShowAll,
    ShowFailed,
    ShowHelp,
    ShowJob,
    ShowRouter,
    ShowTenant,
    complete,
    parse,
)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("job 42", ShowJob(42)),
        (":job 42", ShowJob(42)),
        ("  job   #42 ", ShowJob(42)),
        ("router core-1", ShowRouter("core-1")),
        ("router  core 1 ", ShowRouter("core 1")),  # a name may hold spaces
        ("router", ShowRouter(None)),
        ("tenant northnet", ShowTenant("northnet")),
        ("tenant", ShowTenant(None)),
        ("failed", ShowFailed()),
        ("all", ShowAll()),
        ("help", ShowHelp()),
        ("JOB 7", ShowJob(7)),  # the command word in any case; names as typed
        ("Router Core-1", ShowRouter("Core-1")),
    ],
)
def test_a_command_line_means_one_command(line: str, command: object) -> None:
    assert parse(line) == command


def test_an_empty_line_is_nothing_to_do() -> None:
    assert parse("") is None and parse(" : ") is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("job", "`:job` wants a job number, as in `:job 42`"),
        ("job abc", "`:job` wants a job number, as in `:job 42`"),
        ("job 1 2", "`:job` wants a job number, as in `:job 42`"),
        # Digits to str.isdigit but not to int(): a superscript, a circled number.
        ("job ²", "`:job` wants a job number, as in `:job 42`"),
        ("job ①", "`:job` wants a job number, as in `:job 42`"),
        ("job 0", "no job #0"),
        ("job 99999999999999999999", "no job #99999999999999999999"),
        # Digits to str.isdecimal, but the CLI's ids are ASCII: the two agree.
        ("job ３", "`:job` wants a job number, as in `:job 42`"),
        # int() refuses 4,300 digits or more; the notice doesn't repeat a screenful of them.
        ("job " + "9" * 10_000, "no job #" + "9" * 20 + "…"),
        ("failed now", "`:failed` takes nothing after it"),
        ("all routers", "`:all` takes nothing after it"),
    ],
)
def test_a_malformed_command_says_how_it_is_written(line: str, message: str) -> None:
    assert parse(line) == CommandError(message)


def test_an_unknown_command_lists_the_commands() -> None:
    error = parse("jbo 42")
    assert isinstance(error, CommandError)
    assert error.message == f"no command `jbo`; {HELP}"
    for word in (":job ID", ":router NAME", ":tenant NAME", ":failed", ":all", ":help"):
        assert word in HELP


@pytest.mark.parametrize(
    ("typed", "completed"),
    [
        ("j", "job "),
        ("ro", "router "),
        ("t", "tenant "),
        ("fa", "failed"),
        ("router c", "router core-1"),
        ("router core-", "router core-1"),
        ("router e", "router edge-v6"),
        ("tenant n", "tenant northnet"),
        ("Router e", "Router edge-v6"),
        (":tenant s", ":tenant southwave"),
    ],
)
def test_tab_completes_the_command_word_and_names(typed: str, completed: str) -> None:
    assert complete(typed, ["core-1", "core-2", "edge-v6"], ["northnet", "southwave"]) == completed


@pytest.mark.parametrize("typed", ["", "x", "job 4", "router z", "tenant z", "failed", "router core-12"])
def test_nothing_to_complete_is_none(typed: str) -> None:
    assert complete(typed, ["core-1", "core-12"], ["northnet"]) is None


def test_a_complete_name_offers_the_next_longer_one() -> None:
    assert complete("router core-1", ["core-12", "core-1"], []) == "router core-12"
