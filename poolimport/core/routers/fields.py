"""A router's fields: the one definition of what an operator sets on a router, with defaults,
validation, and the conversions to and from a stored router and a form. The CLI's options, the TUI's
form and the core's save all go through it."""

from __future__ import annotations

import codecs
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from poolimport.core.errors import InvalidInput
from poolimport.core.text import one_line

if TYPE_CHECKING:
    # Only named in annotations: the CLI builds its router options from this module at start-up.
    from poolimport.core.models import Router

API_PORT, API_SSL_PORT = 8728, 8729
# Limits on what the operator types: generous for real use, small enough to show in a table.
MAX_NAME = 100  # tenant, router and operator names
MAX_USERNAME = 100
MAX_PASSWORD = 256
MAX_PATH = 1000
MAX_HOST = 253  # the longest DNS name
# A DNS label (RFC 1123): letters, digits and hyphens, not starting or ending with a hyphen.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidInput(f"{what} is too long: {len(value)} characters, at most {limit}")


def check_name(what: str, value: str) -> None:
    """A name shown in lists and messages: not empty, not too long, no control characters."""
    if not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    check_length(what, value, MAX_NAME)
    if one_line(value) != value:
        raise InvalidInput(f"{what} must not contain control characters")


def check_host(host: str) -> None:
    """An IP address or a host name; anything else (a network, a URL, spaces) is refused."""
    if not host:
        raise InvalidInput("host must not be empty")
    check_length("host", host, MAX_HOST)
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    # An all-numeric last label is a mistyped IPv4 address (999.1.1.1), never a host name.
    if not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise InvalidInput(f"host must be an IP address or a host name, got {host!r}")


@dataclass
class RouterFields:
    """Everything about a router the operator sets, except its tenant and password."""

    name: str
    host: str
    username: str
    port: int | None = None
    tls: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    encoding: str = "utf-8"
    timeout: float = 10.0

    def validate(self) -> None:
        check_name("router name", self.name)
        check_host(self.host)
        if not self.username:
            raise InvalidInput("username must not be empty")
        check_length("username", self.username, MAX_USERNAME)
        if self.ca_file is not None:
            check_length("CA file path", self.ca_file, MAX_PATH)
        if self.port is not None and not 1 <= self.port <= 65535:
            raise InvalidInput(f"port must be 1-65535, got {self.port}")
        if not 0 < self.timeout <= 3600:
            raise InvalidInput(f"timeout must be between 0 and 3600 seconds, got {self.timeout:g}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise InvalidInput(f"unknown encoding {self.encoding!r}") from None

    @property
    def effective_port(self) -> int:
        return self.port or (API_SSL_PORT if self.tls else API_PORT)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> RouterFields:
        """From a mapping holding (at least) every field, such as `form_values`."""
        return cls(**{name: values[name] for name in FIELD_NAMES})


FIELD_NAMES = tuple(field.name for field in fields(RouterFields))
# What a new router starts with: the CLI's option defaults and the add form's first values.
FIELD_DEFAULTS: dict[str, Any] = {
    field.name: field.default for field in fields(RouterFields) if field.default is not MISSING
}


# Where a stored password goes: changing any of these sends it somewhere it was not entered for.
ENDPOINT_FIELDS = {
    "host": "host",
    "effective_port": "port",
    "username": "username",
    "tls": "TLS",
    "tls_verify": "certificate check",
    "ca_file": "CA file",
}


def endpoint_changes(before: RouterFields, after: RouterFields) -> list[str]:
    """What differs of where the password goes (host, port, username, TLS settings), by name."""
    return [name for attr, name in ENDPOINT_FIELDS.items() if getattr(before, attr) != getattr(after, attr)]


def check_password_stays(stored: RouterFields, fields: RouterFields, password: str | None) -> None:
    """A stored password goes only to the endpoint it was entered for: moving the router needs it again."""
    changed = endpoint_changes(stored, fields)
    if changed and not password:
        raise InvalidInput(
            f"changing the {', '.join(changed)} of router {stored.name!r} needs its password again:"
            " a stored password goes only to the endpoint it was entered for"
        )


def fields_of(router: Router) -> RouterFields:
    return RouterFields(**{name: getattr(router, name) for name in FIELD_NAMES})


def apply_fields(router: Router, values: RouterFields) -> Router:
    """The inverse of `fields_of`: the router (stored or not) takes the fields' values, its port made
    explicit (8729 with TLS) so that what is tested is what is saved."""
    for name in FIELD_NAMES:
        setattr(router, name, getattr(values, name))
    router.port = values.effective_port
    return router


def form_values(router: Router) -> dict[str, Any]:
    """What an edit form starts from: every field, the tenant, and whether the password must be typed."""
    return {
        **asdict(fields_of(router)),
        "tenant": router.tenant.name,
        "password_needed": router.password_needed,
    }
