"""Add a tenant: its name, saved with the form open. A refusal (a taken name, a non-administrator) is said
in the form, with what was typed kept; the form closes, dismissed with the stored name, once saved."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from poolimport.tui.components import cells
from poolimport.tui.components.form_screen import FormScreen
from poolimport.tui.components.keys_footer import KeysFooter
from poolimport.tui.components.tui_app import tui_app

# Why the form opened when adding a router: a router belongs to a tenant.
NO_TENANT_YET = "No tenants yet: a router belongs to a tenant. Add one first, then the router."


class TenantForm(FormScreen[str]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="tenant_form.cancel"),
        Binding("ctrl+s", "save", "Save", id="tenant_form.save"),
    ]

    def __init__(self, note: str = "") -> None:
        super().__init__()
        self.note = note

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
        yield KeysFooter()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        name = self.query_one("#tenant-name", Input).value.strip()
        app = tui_app(self)

        def saved(stored: str) -> None:
            app.presenter.say(f"tenant {stored} added")
            self.dismiss(stored)

        self.save_open(lambda: app.data.add_tenant(name), saved)
