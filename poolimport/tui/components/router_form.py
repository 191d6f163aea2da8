"""Add or edit a router. The password field is masked; "Test" connects without saving; "Save" saves with the
form open, which closes once the router is saved (dismissed with what was saved, its id filled in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from poolimport.core.config import Settings
from poolimport.core.db import get_engine
from poolimport.core.errors import InvalidInput, Refusal
from poolimport.core.routers.fields import FIELD_DEFAULTS, RouterFields, check_password_stays
from poolimport.core.routers.records import record_refusal_about_router
from poolimport.core.text import one_line
from poolimport.tui.components import cells
from poolimport.tui.components.form_screen import FormScreen
from poolimport.tui.components.keys_footer import KeysFooter


class Tick(Checkbox):
    """A checkbox whose state reads without colour (NO_COLOR, monochrome): X when on, blank when off."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802  (the name Textual reads)
        return "X" if self.value else " "


@dataclass
class RouterFormResult:
    router_id: int | None
    tenant: str
    fields: RouterFields
    password: str | None


class RouterForm(FormScreen[RouterFormResult]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("ctrl+t", "test", "Test connection", id="form.test"),
    ]

    def __init__(
        self, tenants: list[str], values: dict[str, Any] | None = None, router_id: int | None = None
    ):
        super().__init__()
        self.tenants = tenants
        self.values = values or dict(FIELD_DEFAULTS)
        self.router_id = router_id

    def compose(self) -> ComposeResult:
        v = self.values
        tenant_options = [(cells.plain(name), name) for name in self.tenants]
        with Vertical(id="form-body") as body:
            body.border_title = cells.plain(f"Edit router {v['name']}" if self.router_id else "Add router")
            with Grid(id="form-grid"):
                yield Label("Name")
                yield Input(one_line(v.get("name", "")), id="name", compact=True)
                yield Label("Tenant")
                tenant = v.get("tenant") or (self.tenants[0] if len(self.tenants) == 1 else Select.NULL)
                yield Select(
                    tenant_options, value=tenant, id="tenant", compact=True, prompt="choose a tenant"
                )
                yield Label("Host")
                yield Input(one_line(v.get("host", "")), id="host", compact=True)
                yield Label("Port")
                port = "" if v["port"] is None else str(v["port"])
                yield Input(port, placeholder="8728 (8729 with TLS)", id="port", type="integer", compact=True)
                yield Label("Username")
                yield Input(one_line(v.get("username", "")), id="username", compact=True)
                yield Label("Password")
                hint = "unchanged unless typed" if self.router_id else ""
                if v.get("password_needed"):
                    hint = "needed again: the key file was replaced"
                yield Input(placeholder=hint, password=True, id="password", compact=True)
                yield Label("Timeout (s)")
                yield Input(f"{v['timeout']:g}", id="timeout", type="number", compact=True)
                yield Label("TLS")
                yield Tick("API-SSL", v["tls"], id="tls", compact=True)
                yield Label("Certificate")
                yield Tick("verify", v["tls_verify"], id="tls_verify", compact=True)
            yield Static("", id="form-status")
            with Horizontal(id="form-buttons"):
                yield Button("Test connection", id="test")
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")
        yield KeysFooter()

    def _read(self) -> RouterFormResult:
        def text(widget_id: str) -> str:
            typed = self.query_one(f"#{widget_id}", Input).value
            stored = self.values.get(widget_id)
            # Stored text is shown with its control characters replaced: left as shown, it stays as stored.
            if isinstance(stored, str) and typed == one_line(stored):
                return stored.strip()
            return typed.strip()

        tenant = self.query_one("#tenant", Select).value
        if tenant is Select.NULL or not isinstance(tenant, str):
            raise InvalidInput("choose a tenant")
        try:
            port = int(text("port")) if text("port") else None
            timeout = float(text("timeout") or FIELD_DEFAULTS["timeout"])
        except ValueError:
            raise InvalidInput("port and timeout must be numbers") from None
        fields = RouterFields(
            name=text("name"),
            host=text("host"),
            username=text("username"),
            port=port,
            tls=self.query_one("#tls", Checkbox).value,
            tls_verify=self.query_one("#tls_verify", Checkbox).value,
            ca_file=self.values["ca_file"],
            encoding=self.values["encoding"],
            timeout=timeout,
        )
        fields.validate()
        password = self.query_one("#password", Input).value or None
        if self.router_id is None and not password:
            raise InvalidInput("a password is required")
        if self.router_id is not None:
            check_password_stays(self._stored_fields(), fields, password)
        return RouterFormResult(self.router_id, tenant, fields, password)

    def _stored_fields(self) -> RouterFields:
        return RouterFields.from_values(self.values)

    def _recorder(self, action: str) -> Callable[[Refusal], None]:
        """Records a refusal into the audit as core records its own; to be called off the event loop."""
        app: Any = self.app
        settings: Settings = app.settings
        subject = self.query_one("#name", Input).value or self.values.get("name", "")

        def record(refusal: Refusal) -> None:
            engine = get_engine(settings)
            record_refusal_about_router(engine, settings.identity, action, refusal, self.router_id, subject)

        return record

    def _refused(self, action: str, refusal: Refusal) -> None:
        """A refusal the form made itself: said in the form, and recorded."""
        self._say(str(refusal), ok=False)
        record = self._recorder(action)
        app: Any = self.app
        app.run_core(lambda: record(refusal), lambda _: None)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Saved while the form stays open: refused (a taken name, a viewer), the reason shows here and
        what was typed stays; the form closes once the router is saved."""
        try:
            result = self._read()
        except InvalidInput as exc:
            self._refused("router.edit" if self.router_id else "router.add", exc)
            return
        app: Any = self.app

        def save() -> int:
            router_id: int = app.data.save_router(
                result.router_id, result.tenant, result.fields, result.password
            )
            return router_id

        def saved(router_id: int) -> None:
            result.router_id = router_id
            self.dismiss(result)

        self.save_open(save, saved)

    @on(Button.Pressed, "#test")
    def action_test(self) -> None:
        try:
            result = self._read()
        except InvalidInput as exc:
            self._refused("router.test", exc)
            return
        self._say("testing…", ok=True)
        app: Any = self.app
        record = self._recorder("router.test")

        def test() -> tuple[str, bool]:
            try:
                outcome: tuple[str, bool] = app.data.test_unsaved(
                    result.fields, result.password, result.router_id
                )
            except Refusal as exc:  # refused past the form: a viewer, a router that is gone
                record(exc)
                raise
            return outcome

        app.run_core(test, self._tested, lambda: self._say("test failed: see the notification", ok=False))

    def _tested(self, outcome: tuple[str, bool]) -> None:
        if self.is_attached:
            self._say(*outcome)
