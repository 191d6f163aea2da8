"""Who is asking: the OS account of the process (never `$USER`, which the caller sets), or the operator that
an SSH key names (and the key); whom an administrator acts as; from where; and the roles an operator may
have."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

# What an operator may do: everything in every tenant, change their tenant's data, or only look.
ROLES = ("admin", "operator", "viewer")


@dataclass(frozen=True)
class Identity:
    # The OS account of the process, or the operator named by the SSH key they came in with.
    asker: str
    # POOLIMPORT_OPERATOR: honoured for an administrator only (the tenancy scope decides).
    acting_as: str | None = None
    origin: str = "local"  # or the SSH client's address
    # The fingerprint of the SSH key the session came in with (None: a local account). The session lasts
    # only while that key is still the asker's: each time the scope is resolved, the key is looked up.
    key: str | None = None
    client: str = "CLI"  # or "TUI": what the asker types into

    def __post_init__(self) -> None:
        if self.acting_as == self.asker:
            object.__setattr__(self, "acting_as", None)  # acting as yourself is being yourself

    @property
    def operator(self) -> str:
        """The operator whose scope applies."""
        return self.acting_as or self.asker

    @property
    def way(self) -> str:
        """How the asker came, as a job they start records it: the client, and the SSH key if any. An
        administrator acting as an operator is named, and their key kept out: the operator's tenant
        reads it."""
        if self.acting_as is not None:
            over = " over SSH" if self.key is not None else ""
            return f"{self.client}{over}, by administrator {self.asker} acting as {self.acting_as}"
        if self.key is None:
            return self.client
        return f"{self.client} over SSH from {self.origin}, key {self.key}"


def os_account() -> str:
    """The name of the real uid's account; a uid without one is named by its number."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
