"""A DataTable that keeps its rows by key, updates changed cells in place, filters on `/`, sorts by a
column (`o` cycles the column, `O` reverses, an arrow marks it), and shows fewer columns when the terminal
is narrow (80 columns over SSH is common).

A table holding everything it lists (routers, pools, workers, audit) filters and sorts its rows here.
A table paging through the database says so: SEARCHES_DATABASE (the `/` text is the query's, its screen
reads again on QueryChanged) and SORTS_DATABASE (the columns the query orders by; `o` cycles those). The
jobs pane searches the database but sorts the jobs it read, the newest page; the addresses screen does
both in the database.

Sorting is by each cell's value: a number given with the row (`show_rows(values=...)`), else the cell's
text read as a number where it is one ("1,234", "12.5%"), else as words and numbers ("r2" before "r10").
Empty cells and "-" go last either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import ClassVar, TypeVar, cast

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

Cell = Text | str
Row = Mapping[str, Cell]
Values = Mapping[str, Mapping[str, object]]  # row key -> column -> what the cell sorts by
Built = TypeVar("Built")
NARROW_WIDTH = 120
ARROWS = {False: "▲", True: "▼"}
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_PARTS = re.compile(r"(\d+)")
SortKey = tuple[int, float, tuple[tuple[int, int, str], ...]]


def _part_key(part: str) -> tuple[int, int, str]:
    """A run of ASCII digits by size (by length, then digits: int() refuses 4,300 digits), else text."""
    if part.isascii() and part.isdigit():
        digits = part.lstrip("0")
        return (0, len(digits), digits)
    return (1, 0, part.lower())


def sort_key(value: object) -> SortKey:
    """Numbers by size, then text (its numbers by size), then nothing; one order across mixed cells."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value), ())
    text = value.plain if isinstance(value, Text) else "" if value is None else str(value)
    text = text.strip()
    if text in ("", "-"):
        return (2, 0.0, ())
    number = text.replace(",", "").rstrip("%").strip()
    if _NUMBER.fullmatch(number):
        return (0, float(number), ())
    parts = tuple(
        (0, len(part.lstrip("0")), part.lstrip("0"))
        if part.isascii() and part.isdigit()
        else (1, 0, part.lower())
        for part in _PARTS.split(text)
        if part
    )
    return (1, 0.0, parts)


class FilterTable(DataTable[Cell]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "o",
            "cycle_sort",
            "Sort",
            show=False,
            tooltip="sort the focused table by its next column (then as read)",
            id="table.sort",
        ),
        Binding(
            "O",
            "reverse_sort",
            "Reverse",
            show=False,
            key_display="O",
            tooltip="reverse the focused table's order",
            id="table.reverse",
        ),
    ]
    # (key, label, width): fixed widths keep the layout still while numbers change under it.
    COLUMNS: Sequence[tuple[str, str, int]] = ()
    NARROW_COLUMNS: Sequence[str] | None = None  # the keys kept below NARROW_WIDTH; None keeps all
    SEARCHES_DATABASE = False
    SORTS_DATABASE: Sequence[str] = ()
    # The column the rows come in the order of, when the query orders them by one.
    NATURAL_SORT: str | None = None

    class QueryChanged(Message):
        """The order changed, or the filter of a table the database filters: its screen may read again."""

        def __init__(self, table: FilterTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> FilterTable:
            return self.table

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, Row] = {}
        self._values: Values = {}
        self._previous: dict[str, Row] = {}
        self._built: dict[str, tuple[object, object]] = {}
        self._order: list[str] = []
        self._columns: list[str] = []
        self.filter_text = ""
        self.sort_column: str | None = None  # None: as read
        self.sort_reverse = False

    def on_mount(self) -> None:
        self._set_columns(self.app.size.width)

    def on_resize(self) -> None:
        self._set_columns(self.app.size.width)

    def _set_columns(self, width: int, force: bool = False) -> None:
        wanted = [key for key, _, _ in self.COLUMNS]
        if self.NARROW_COLUMNS is not None and width < NARROW_WIDTH:
            wanted = [key for key in wanted if key in self.NARROW_COLUMNS]
        if wanted == self._columns and not force:
            return
        self._columns = wanted
        specs = {key: (label, width) for key, label, width in self.COLUMNS}
        arrowed = self.sort_column or (self.NATURAL_SORT if self.sort_reverse else None)
        selected = self.selected_key
        self.clear(columns=True)
        for key in wanted:
            label, width = specs[key]
            if key == arrowed:
                label = f"{label} {ARROWS[self.sort_reverse]}"
                width = max(width, len(label))
            self.add_column(label, key=key, width=width)
        self._render_rows(force=True)
        if selected is not None:
            self.select_key(selected)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except (CellDoesNotExist, RowDoesNotExist):
            return None

    def set_filter(self, text: str) -> None:
        changed = text != self.filter_text
        self.filter_text = text  # as typed, for the subtitle; matched in any case
        if self.SEARCHES_DATABASE:
            if changed:
                self.post_message(self.QueryChanged(self))
            return
        self._render_rows(force=True)

    # -- order -------------------------------------------------------------------------------------

    @property
    def sort_label(self) -> str | None:
        """The sorted column's label, for a title that says how its rows are ordered."""
        return next((label for key, label, _ in self.COLUMNS if key == self.sort_column), None)

    def _sortable(self) -> list[str]:
        if self.SORTS_DATABASE:
            return [key for key in self.SORTS_DATABASE if key != self.NATURAL_SORT]
        return list(self._columns)

    def action_cycle_sort(self) -> None:
        cycle: list[str | None] = [None, *self._sortable()]
        at = cycle.index(self.sort_column) if self.sort_column in cycle else 0
        self.sort_by(cycle[(at + 1) % len(cycle)], self.sort_reverse)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)

    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self._set_columns(self.app.size.width, force=True)
        self.post_message(
            self.QueryChanged(self)
        )  # a title may say the order; a query may have to read again

    # -- rows ----------------------------------------------------------------------------------------

    def _visible(self) -> list[str]:
        keys = self._order
        if self.filter_text and not self.SEARCHES_DATABASE:
            wanted = self.filter_text.lower()
            keys = [
                key
                for key in keys
                if wanted in " ".join(str(cell) for cell in self._rows[key].values()).lower()
            ]
        if self.SORTS_DATABASE:
            return keys
        column = self.sort_column
        if column is not None:
            keys = sorted(keys, key=lambda key: self._sort_key(key, column), reverse=self.sort_reverse)
            # Empty cells last both ways.
            keys.sort(key=lambda key: self._sort_key(key, column)[0] == 2)
        elif self.sort_reverse:
            keys = keys[::-1]
        return keys

    def _sort_key(self, key: str, column: str) -> SortKey:
        values = self._values.get(key, {})
        return sort_key(values[column] if column in values else self._rows[key].get(column))

    def built(self, key: str, source: object, build: Callable[[], Built]) -> Built:
        """What `build` made for the row `key` last time, while its `source` is unchanged: building the
        cells of a thousand rows is most of what a refresh costs."""
        cached = self._built.get(key)
        if cached is not None and cached[0] == source:
            return cast(Built, cached[1])
        made = build()
        self._built[key] = (source, made)
        return made

    def show_rows(self, rows: list[tuple[str, Row]], values: Values | None = None) -> None:
        """The rows, in the order read; `values` gives what cells sort by where their text doesn't say."""
        self._order = [key for key, _ in rows]
        self._previous, self._rows = self._rows, dict(rows)
        self._values = values or {}
        if len(self._built) > len(self._rows):
            self._built = {key: built for key, built in self._built.items() if key in self._rows}
        self._render_rows()

    def select_key(self, key: str) -> None:
        with suppress(RowDoesNotExist):
            self.move_cursor(row=self.get_row_index(key))

    def _render_rows(self, force: bool = False) -> None:
        if not self._columns:
            return
        visible = self._visible()
        if not force and [row.value for row in self.rows] == visible:
            for key in visible:
                old, new = self._previous.get(key), self._rows[key]
                if old is new:
                    continue
                for column in self._columns:
                    was, cell = (old or {}).get(column), new.get(column)
                    if old is None or (was is not cell and was != cell):
                        self.update_cell(key, column, "" if cell is None else cell)  # widths are fixed
            return
        selected = self.selected_key
        self.clear()
        for key in visible:
            row = self._rows[key]
            self.add_row(*(row.get(column, "") for column in self._columns), key=key)
        if selected is not None:
            self.select_key(selected)
