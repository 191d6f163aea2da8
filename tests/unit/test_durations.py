"""Durations as operators type them and read them back."""

from __future__ import annotations

import pytest

from poolimport.core.durations import MAX_SECONDS, describe_interval, describe_span, parse_duration


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (10, "10s"),
        (90, "1m30s"),
        (3600, "1h"),
        (3601, "1h1s"),
        (86400, "1d"),
        (1_000_000, "11d13h46m40s"),
        (MAX_SECONDS, "365d"),
    ],
)
def test_an_interval_reads_back_exactly_in_whole_units(seconds: float, shown: str) -> None:
    assert describe_interval(seconds) == shown
    assert parse_duration(shown).total_seconds() == seconds  # what is shown can be typed back


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0s"), (59.9, "59s"), (3438, "57m"), (8_297_630, "96d"), (-5, "0s")]
)
def test_a_span_reads_in_its_largest_whole_unit(seconds: float, shown: str) -> None:
    assert describe_span(seconds) == shown


def test_durations_read_as_operators_write_them() -> None:
    typed = ("30s", "5m", "1h", "2d", "90", "1h30m", " 2D ", "5 m", "1h 30m")
    seconds = [30, 300, 3600, 172800, 90, 5400, 172800, 300, 5400]
    assert [parse_duration(t).total_seconds() for t in typed] == seconds


def test_a_year_is_the_longest_duration_and_the_refusal_says_so() -> None:
    assert parse_duration("365d").days == 365
    # Units largest first, each once; ASCII digits, as ids are; no number int() would refuse.
    odd = ("1m1m", "1s1h", "３m", "9" * 5000, "9" * 5000 + "s")
    for text in ("366d", "400d", "8761h", "0", "0s", "-5m", "1.5m", "1.5h", "1w", "5x", "", *odd):
        with pytest.raises(ValueError, match="at most 365d"):
            parse_duration(text)
