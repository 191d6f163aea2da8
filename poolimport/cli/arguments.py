"""Argument types: a number the database can't hold is a usage error, not a traceback from the driver."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to MAX_ID; `what` names it in the message."""

    def parse(value: str) -> int:
        # Imported when a value is parsed, not when the parser is built: the models load SQLAlchemy, which
        # a command given an id needs anyway.
        from poolimport.core.models import MAX_ID, parse_id

        number = parse_id(value)
        if number is None:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {value!r}: a whole number from 1 to {MAX_ID} is expected"
            )
        return number

    return parse


job_id = whole_number("job id")
row_limit = whole_number("limit")
