"""A DataTable that keeps its rows by key, updates changed cells in place and filters on `/`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

Cells = Sequence[Text | str]


class FilterTable(DataTable[Text | str]):
    COLUMNS: Sequence[tuple[str, str]] = ()  # (key, label)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, Cells] = {}
        self._order: list[str] = []
        self.filter_text = ""

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)

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
            key for key in self._order if self.filter_text in " ".join(str(cell) for cell in self._rows[key]).lower()
        ]

    def show_rows(self, rows: list[tuple[str, Cells]]) -> None:
        self._order = [key for key, _ in rows]
        self._previous = self._rows
        self._rows = dict(rows)
        self._render_rows()

    def select_key(self, key: str) -> None:
        try:
            self.move_cursor(row=self.get_row_index(key))
        except RowDoesNotExist:
            pass

    def _render_rows(self, force: bool = False) -> None:
        visible = self._visible()
        current = [row.value for row in self.rows]
        if not force and current == visible:
            columns = [key for key, _ in self.COLUMNS]
            previous = getattr(self, "_previous", {})
            for key in visible:
                old, new = previous.get(key), self._rows[key]
                if old == new:
                    continue
                for index, cell in enumerate(new):
                    if old is None or old[index] != cell:
                        self.update_cell(key, columns[index], cell)
            return
        selected = self.selected_key
        self.clear()
        for key in visible:
            self.add_row(*self._rows[key], key=key)
        if selected is not None:
            self.select_key(selected)
