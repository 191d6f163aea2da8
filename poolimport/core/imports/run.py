"""One import of any kind: connect to the router, let the kind read what it imports, then write it.

An import kind (pools today; see `import_kinds`) says what it reads from the router, how it writes it and
how it settles the result. Connecting, the router's password, stopping and the router's last status are
the same for every kind and live here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from poolimport.core.config import Settings
from poolimport.core.events import Event, EventKind, event
from poolimport.core.models import Router, utcnow
from poolimport.core.routers.api import RouterClient, RouterError, RouterStopped, RouterTarget, StopCheck
from poolimport.core.secrets.box import SecretBox, SecretError
from poolimport.core.secrets.keys import password_needed_message
from poolimport.core.statuses import CheckStatus, JobStatus, PoolOutcome

# (level, message, data): the job layer turns these into job_events and log lines.
EventSink = Callable[[Event], None]
# (pools_done, pools_total, addresses_done, addresses_total)
ProgressSink = Callable[[int, int, int, int], None]


class ImportStopped(Exception):
    """Raised between batches when the job must stop; the pool being written rolls back."""


@dataclass
class PoolReport:
    name: str
    family: int
    outcome: PoolOutcome
    total: int = 0
    added: int = 0
    updated: int = 0
    stale: int = 0
    expanded: bool = True
    error: str | None = None


@dataclass
class ImportResult:
    router: str
    status: JobStatus = JobStatus.SUCCEEDED  # succeeded, partial or failed
    dry_run: bool = False
    pools: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("total", "imported", "failed", "stale"), 0)
    )
    addresses: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("added", "updated", "stale", "total"), 0)
    )
    errors: list[dict[str, str | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: list[PoolReport] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self, with_details: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_details:
            data.pop("details")
        return data

    def fail(self, message: str, pool: str | None = None) -> None:
        self.errors.append({"pool": pool, "message": message})


def _noop_event(happened: Event) -> None:
    pass


def _noop_progress(pools_done: int, pools_total: int, addresses_done: int, addresses_total: int) -> None:
    pass


def router_target(router: Router, box: SecretBox, password: str | None = None) -> RouterTarget:
    """The connection details of a router; `password` overrides the stored one (a form's test button)."""
    needed = password_needed_message(router) if password is None else None
    if needed:
        raise SecretError(needed)
    return RouterTarget(
        host=router.host,
        port=router.port,
        username=router.username,
        password=password if password is not None else box.decrypt(router.password_encrypted),
        tls=router.tls,
        tls_verify=router.tls_verify,
        ca_file=router.ca_file,
        encoding=router.encoding,
        timeout=router.timeout,
    )


class ImportKind(Protocol):
    """What differs between imports. A kind is a module with one of these, registered in `import_kinds`."""

    name: str  # stored on each job: one live job per router and kind
    title: str  # in the job's words: "Starting IP pools import job"

    def read(self, client: RouterClient) -> Any:
        """What it imports, read through an open connection (the client honours stop and deadlines)."""
        ...

    def write(self, run: ImportRun, data: Any, result: ImportResult) -> None:
        """Store what `read` returned, reporting through `run` (events, progress, should_stop) into
        `result`; raises ImportStopped between transactions when asked to stop."""
        ...

    def settle(self, result: ImportResult) -> None:
        """The final status and warnings, once everything was written (or failed)."""
        ...


class ImportRun(Protocol):
    """What a kind's `write` may use of the run it is part of."""

    engine: Engine
    settings: Settings
    dry_run: bool
    router_id: int
    emit: EventSink
    on_progress: ProgressSink
    should_stop: StopCheck


class Importer:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        kind: ImportKind,
        *,
        dry_run: bool = False,
        on_event: EventSink = _noop_event,
        on_progress: ProgressSink = _noop_progress,
        should_stop: StopCheck = lambda: None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.kind = kind
        self.router_id = 0  # set by run()
        self.dry_run = dry_run
        self.emit = on_event
        self.on_progress = on_progress
        self.should_stop = should_stop

    def run(self, router_id: int) -> ImportResult:
        started = time.perf_counter()
        self.router_id = router_id
        with Session(self.engine) as session:
            router = session.get(Router, router_id)
            if router is None:
                raise LookupError(f"router {router_id} no longer exists")
            result = ImportResult(router=router.name, dry_run=self.dry_run)
        try:
            target = router_target(router, SecretBox(self.settings.key_file))
            endpoint = {"host": target.host, "port": target.port}
            self.emit(event(EventKind.ROUTER_CONNECTING, endpoint, address=target.address))
            with RouterClient(target, should_stop=self.should_stop) as client:
                data = self.kind.read(client)
            reason = self.should_stop()
            if reason:  # asked before the first write: the job may have ended while the router answered
                raise RouterStopped(reason)
        except RouterStopped as stop:
            # Not the router's fault: its status stays as it was, and nothing is written.
            result.status = JobStatus.FAILED
            result.fail(str(stop))
            self.emit(event(EventKind.ROUTER_READ_STOPPED, {"reason": str(stop)}, reason=stop))
            return self._finish(result, started)
        except SecretError as exc:
            result.status = JobStatus.FAILED
            result.fail(f"reading {self.kind.name} failed: {exc}")
            self.emit(
                event(
                    EventKind.ROUTER_READ_FAILED, {"error": str(exc), "kind": "secret"}, title=self.kind.title
                )
            )
            return self._finish(result, started)
        except RouterError as exc:
            result.status = JobStatus.FAILED
            result.fail(f"reading {self.kind.name} failed: {exc}")
            self.emit(
                event(
                    EventKind.ROUTER_READ_FAILED, {"error": str(exc), "kind": exc.kind}, title=self.kind.title
                )
            )
            self._record_router_status(router_id, str(exc))
            return self._finish(result, started)
        self._record_router_status(router_id, None)
        try:
            self.kind.write(self, data, result)
        except ImportStopped as stop:
            result.fail(str(stop))
            result.status = JobStatus.FAILED
            self.emit(event(EventKind.JOB_STOPPED, {"reason": str(stop)}, reason=stop))
        return self._finish(result, started)

    def _record_router_status(self, router_id: int, error: str | None) -> None:
        if self.dry_run:
            return
        values = {
            "last_status": CheckStatus.ERROR if error else CheckStatus.OK,
            "last_error": error,
            "last_checked_at": utcnow(),
        }
        with self.engine.begin() as conn:
            conn.execute(update(Router).where(Router.id == router_id).values(**values))

    def _finish(self, result: ImportResult, started: float) -> ImportResult:
        self.kind.settle(result)
        result.seconds = round(time.perf_counter() - started, 3)
        return result
