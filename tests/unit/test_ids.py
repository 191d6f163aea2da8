"""Ids typed by an operator: ASCII digits within what the database holds, whatever else str calls a digit."""

from __future__ import annotations

import pytest

from poolimport.core.models import MAX_ID, parse_id


@pytest.mark.parametrize("text", ["1", "42", str(MAX_ID)])
def test_an_id_in_ascii_digits_is_read(text: str) -> None:
    assert parse_id(text) == int(text)


@pytest.mark.parametrize(
    "text", ["", "0", "-1", "+1", " 1", "1.0", "²", "①", "３", "٣", str(MAX_ID + 1), "9" * 10_000]
)
def test_anything_else_is_no_id(text: str) -> None:
    assert parse_id(text) is None
