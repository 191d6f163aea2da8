"""RouterOS API query words (``?...``) compiled into a row predicate.

Each query word pushes a boolean per row onto a stack; the row matches when every value left
on the stack is true (an empty query matches everything). Supported words:

    ?name            row has attribute `name`
    ?-name           row lacks attribute `name`
    ?name=x, ?=name=x   attribute equals x
    ?<name=x, ?>name=x  attribute less/greater than x (numeric when both sides are integers)
    ?#ops            stack operations, one character each: | (or), & (and), ! (not),
                     . (duplicate top), 0-9 (push a copy of the n-th value from the top)

The ``?#`` digit semantics follow our reading of the RouterOS manual and have not been verified
against a router; librouteros only ever emits |, & and !.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Row = dict[str, str]
Predicate = Callable[[Row], bool]


class QueryError(ValueError):
    pass


def compile_query(words: Sequence[str]) -> Predicate:
    steps = [_parse(word) for word in words]
    if not steps:
        return lambda row: True

    def predicate(row: Row) -> bool:
        stack: list[bool] = []
        for step in steps:
            step(row, stack)
        return all(stack)

    # Evaluate once on an empty row so a malformed stack program fails up front, not mid-reply.
    predicate({})
    return predicate


Step = Callable[[Row, list[bool]], None]


def _parse(word: str) -> Step:
    if not word.startswith("?") or len(word) < 2:
        raise QueryError(f"invalid query word {word!r}")
    body = word[1:]
    if body.startswith("#"):
        return _stack_ops(body[1:])
    if body.startswith("-"):
        name = body[1:]
        return lambda row, stack: stack.append(name not in row)
    op = "="
    if body[0] in "<>=":
        op, body = body[0], body[1:]
        if "=" not in body:
            raise QueryError(f"query word {word!r} needs name=value")
    name, has_value, value = body.partition("=")
    if not name:
        raise QueryError(f"query word {word!r} has no attribute name")
    if not has_value:
        return lambda row, stack: stack.append(name in row)
    compare = _COMPARE[op]
    return lambda row, stack: stack.append(name in row and compare(row[name], value))


def _less(a: str, b: str) -> bool:
    try:
        return int(a) < int(b)
    except ValueError:
        return a < b


def _greater(a: str, b: str) -> bool:
    try:
        return int(a) > int(b)
    except ValueError:
        return a > b


_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "=": lambda a, b: a == b,
    "<": _less,
    ">": _greater,
}


def _stack_ops(ops: str) -> Step:
    def run(row: Row, stack: list[bool]) -> None:
        for op in ops:
            try:
                if op == "|":
                    right, left = stack.pop(), stack.pop()
                    stack.append(left or right)
                elif op == "&":
                    right, left = stack.pop(), stack.pop()
                    stack.append(left and right)
                elif op == "!":
                    stack.append(not stack.pop())
                elif op == ".":
                    stack.append(stack[-1])
                elif op.isdigit():
                    stack.append(stack[-1 - int(op)])
                else:
                    raise QueryError(f"unknown query operation {op!r}")
            except IndexError:
                raise QueryError(f"query operation {op!r} needs more values on the stack") from None

    return run
