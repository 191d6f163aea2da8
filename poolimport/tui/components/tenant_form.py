"""Add a tenant: its name, saved with the form open. A refusal (a taken name, a non-administrator) is said
in the form, with what was typed kept; the form closes, dismissed with the stored name, once saved."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from poolimport.core.errors import PoolimportError
from poolimport.tui.components import cells
from poolimport.tui.components.tui_app import tui_app

# Why the form opened when adding a router: a router belongs to a tenant.
NO_TENANT_YET = "No tenants yet: a router belongs to a tenant. Add one first, then the router."


class TenantForm(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="tenant_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="tenant_form.save"),
    ]

    def __init__(self, note: str = "") -> None:
        super().__init__()
        self.note = note
        self._saving = False

    def compose(self) -> ComposeResult:
        with Vertical(id="form-body") as body:
            body.border_title = "Add tenant"
            if self.note:
                yield Static(cells.plain(self.note, "bold", wrap=True), id="form-note")
            with Grid(id="form-grid"):
                yield Label("Name")
                yield Input(placeholder="e.g. northnet", id="tenant-name", compact=True)
            yield Static("", id="form-status")
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")
        yield Footer(compact=True)

    def _say(self, message: str, ok: bool) -> None:
        status = self.query_one("#form-status", Static)
        status.update(cells.plain(message, wrap=True))
        status.set_class(not ok, "error")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._saving:
            return
        name = self.query_one("#tenant-name", Input).value.strip()
        self._saving = True
        self._say("saving…", ok=True)
        app = tui_app(self)

        def save() -> str | PoolimportError:
            try:
                return app.data.add_tenant(name)
            except PoolimportError as exc:  # recorded where it was refused; said here
                return exc

        def failed() -> None:  # the database's trouble, or a bug: the notification says which
            self._saving = False
            self._say("not saved: see the notification", ok=False)

        app.run_core(save, self._saved, failed)

    def _saved(self, outcome: str | PoolimportError) -> None:
        self._saving = False
        if isinstance(outcome, PoolimportError):
            if self.is_attached:
                self._say(str(outcome), ok=False)
            return
        tui_app(self).presenter.say(f"tenant {outcome} added")
        self.dismiss(outcome)
