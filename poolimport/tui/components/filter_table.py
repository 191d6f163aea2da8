"""A DataTable that keeps its rows by key, updates changed cells in place, filters on `/`, and shows
fewer columns when the terminal is narrow (80 columns over SSH is common)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

Cell = Text | str
Row = Mapping[str, Cell]
NARROW_WIDTH = 120


class FilterTable(DataTable[Cell]):
    # (key, label, width): fixed widths keep the layout still while numbers change under it.
    COLUMNS: Sequence[tuple[str, str, int]] = ()
    NARROW_COLUMNS: Sequence[str] | None = None  # the keys kept below NARROW_WIDTH; None keeps all

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, Row] = {}
        self._previous: dict[str, Row] = {}
        self._order: list[str] = []
        self._columns: list[str] = []
        self.filter_text = ""

    def on_mount(self) -> None:
        self._set_columns(self.app.size.width)

    def on_resize(self) -> None:
        self._set_columns(self.app.size.width)

    def _set_columns(self, width: int) -> None:
        wanted = [key for key, _, _ in self.COLUMNS]
        if self.NARROW_COLUMNS is not None and width < NARROW_WIDTH:
            wanted = [key for key in wanted if key in self.NARROW_COLUMNS]
        if wanted == self._columns:
            return
        self._columns = wanted
        specs = {key: (label, width) for key, label, width in self.COLUMNS}
        selected = self.selected_key
        self.clear(columns=True)
        for key in wanted:
            label, width = specs[key]
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
        self.filter_text = text.lower()
        self._render_rows(force=True)

    def _visible(self) -> list[str]:
        if not self.filter_text:
            return self._order
        return [
            key
            for key in self._order
            if self.filter_text in " ".join(str(cell) for cell in self._rows[key].values()).lower()
        ]

    def show_rows(self, rows: list[tuple[str, Row]]) -> None:
        self._order = [key for key, _ in rows]
        self._previous, self._rows = self._rows, dict(rows)
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
                for column in self._columns:
                    if old is None or old.get(column) != new.get(column):
                        self.update_cell(key, column, new.get(column, ""), update_width=True)
            return
        selected = self.selected_key
        self.clear()
        for key in visible:
            row = self._rows[key]
            self.add_row(*(row.get(column, "") for column in self._columns), key=key)
        if selected is not None:
            self.select_key(selected)
