"""What the forms share: a status line that says how a test or a save went (an error's own style, wrapped
whole), saving while the form stays open, and cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from poolimport.core.errors import PoolimportError
from poolimport.tui.components import cells
from poolimport.tui.components.tui_app import tui_app

Result = TypeVar("Result")
Saved = TypeVar("Saved")


class FormScreen(ModalScreen[Result | None]):
    _saving = False

    def save_open(self, save: Callable[[], Saved], saved: Callable[[Saved], None]) -> None:
        """`save` in a worker while the form stays open: refused (a taken name, a viewer), the reason is said
        here and what was typed stays; saved, `saved` (which closes the form)."""
        if self._saving:
            return
        self._saving = True
        self._say("saving…", ok=True)

        def attempt() -> Saved | PoolimportError:
            try:
                return save()
            except PoolimportError as exc:  # recorded where it was refused; said here
                return exc

        def done(outcome: Saved | PoolimportError) -> None:
            self._saving = False
            if isinstance(outcome, PoolimportError):
                if self.is_attached:
                    self._say(str(outcome), ok=False)
                return
            saved(outcome)

        def failed() -> None:  # the database's trouble, or a bug: the notification says which
            self._saving = False
            self._say("not saved: see the notification", ok=False)

        tui_app(self).run_core(attempt, done, failed)

    def _say(self, message: str, ok: bool) -> None:
        status = self.query_one("#form-status", Static)
        status.update(cells.plain(message, wrap=True))
        status.set_class(not ok, "error")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
