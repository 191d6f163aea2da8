"""The key of the stored router passwords: checked before `init` makes one, replaced only when asked
(`init --new-key`), rotated (`key rotate`).

A lost key file must not be silently replaced by a new one: every stored password would become noise. The
stored passwords themselves tell whether a key is theirs (one that decrypts none of them is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from poolimport.core.access import audit
from poolimport.core.access.gate import record_refusal_once
from poolimport.core.access.tenancy import AccessDenied, Scope
from poolimport.core.db import session_scope
from poolimport.core.errors import Refusal
from poolimport.core.models import Router
from poolimport.core.secrets.box import SecretBox, SecretError, ensure_key_file, old_key_file, replace_key
from poolimport.core.statuses import CheckStatus

# The router's status while its stored password can't be used (shown in `router list` and the TUI).
PASSWORD_NEEDED = "password needed: the key file was replaced; enter the router's password again"


def routers_counted(count: int) -> str:
    return f"{count} router" + ("" if count == 1 else "s")


def password_needed_message(router: Router) -> str | None:
    """Why the router's stored password can't be used, or None when it can."""
    if not router.password_needed:
        return None
    return (
        f"router {router.name} needs its password again (the key file was replaced): set it with"
        f" `poolimport router edit {router.name} --password-stdin` or in the router form"
    )


def _require_admin(scope: Scope, what: str) -> None:
    if scope.role != "admin" or scope.tenant_ids is not None:
        raise AccessDenied(f"only an administrator may {what}")


def _stored(session: Session, lock: bool = False) -> list[Router]:
    """Every router whose stored password is meant to work, in every tenant (the key is the install's)."""
    stmt = select(Router).where(Router.password_needed.is_(False)).order_by(Router.id)
    # OF routers: a router's tenant is loaded with it (an outer join), and PostgreSQL locks no outer join's
    # nullable side; the routers' rows are what the rotation rewrites.
    return list(session.scalars(stmt.with_for_update(of=Router) if lock else stmt))


@dataclass
class KeySetup:
    created: bool  # the key file was made now
    marked: int = 0  # routers marked "password needed" (init --new-key)


def set_up_key(engine: Engine, scope: Scope, key_file: Path, new_key: bool = False) -> KeySetup:
    """`init`'s key step: make the key file when no stored password needs another; refuse when stored
    passwords need a key that is missing or different. new_key: knowingly start over, marking the routers
    whose password the key can't decrypt "password needed"."""
    try:
        with session_scope(engine) as session:
            routers = _stored(session)
            box = SecretBox(key_file) if key_file.exists() else None
            if not routers or (box is not None and any(box.opens(r.password_encrypted) for r in routers)):
                if new_key and routers:
                    raise SecretError(
                        f"key file {key_file} decrypts the stored router passwords: nothing to start over"
                        " from; to change the key use `poolimport key rotate`"
                    )
                return KeySetup(created=ensure_key_file(key_file))
            if not new_key:
                state = "is missing" if box is None else "is not the key they were encrypted with"
                counted = routers_counted(len(routers))
                raise SecretError(
                    f"{counted} with stored passwords, and the key file {key_file} {state}:"
                    f" copy the key file back to {key_file} (or point POOLIMPORT_KEY_FILE at it), or run"
                    " `poolimport init --new-key` to start over and enter each router's password again"
                )
            _require_admin(scope, "start over with a new key")
            created = ensure_key_file(key_file)
            for router in routers:
                router.password_needed = True
                router.last_status, router.last_error = CheckStatus.ERROR, PASSWORD_NEEDED
            counted = routers_counted(len(routers))
            audit.record(session, scope, "key.new", subject=counted, detail=str(key_file))
            return KeySetup(created=created, marked=len(routers))
    except Refusal as exc:
        record_refusal_once(engine, scope, "key.new", exc)
        raise


@dataclass
class Rotation:
    reencrypted: int
    old_key_file: Path
    finished_interrupted: bool = False


def rotate_key(engine: Engine, scope: Scope, key_file: Path) -> Rotation:
    """Re-encrypt every stored password with a new key in one transaction, keeping the key it replaces
    beside the key file. The files change before the commit: if the commit fails (or the process dies), both
    keys are still there and decrypt either version, and the next `key rotate` finishes the job."""
    old = old_key_file(key_file)
    try:
        _require_admin(scope, "rotate the key")
        with session_scope(engine) as session:
            box = SecretBox(key_file)
            routers = _stored(session, lock=True)
            for router in routers:
                if not box.opens(router.password_encrypted):
                    raise SecretError(
                        f"router {router.name}: stored router password cannot be decrypted with this key"
                        " file: nothing was changed"
                    )
            if old.exists():
                behind = [r for r in routers if not box.uses_current_key(r.password_encrypted)]
                if not behind:
                    raise SecretError(
                        f"the key before the last rotation is still kept: remove {old} once no backup made"
                        " before that rotation needs it, then rotate again"
                    )
                routers, finishing = behind, True
            else:
                try:
                    replace_key(key_file)
                except OSError as exc:
                    raise SecretError(f"cannot write a new key beside {key_file}: {exc.strerror}") from None
                box, finishing = SecretBox(key_file), False
            for router in routers:
                router.password_encrypted = box.rotate(router.password_encrypted)
            detail = "finished an interrupted rotation" if finishing else None
            audit.record(session, scope, "key.rotate", subject=routers_counted(len(routers)), detail=detail)
    except Refusal as exc:
        record_refusal_once(engine, scope, "key.rotate", exc)
        raise
    return Rotation(len(routers), old, finishing)
