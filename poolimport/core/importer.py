"""One import: read the router, then write each pool in its own transaction, reporting as it goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from poolimport.core.config import Settings
from poolimport.core.errors import describe
from poolimport.core.events import Event, EventKind, event
from poolimport.core.models import Router, utcnow
from poolimport.core.password_keys import password_needed_message
from poolimport.core.pool_writer import PoolChange, PoolWriter, mark_missing_pools_stale
from poolimport.core.routeros import RouterClient, RouterError, RouterStopped, RouterTarget, StopCheck
from poolimport.core.secrets import SecretBox, SecretError
from poolimport.core.snapshot import PoolSpec, RouterSnapshot, read_snapshot
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


def _outcome(change: PoolChange) -> PoolOutcome:
    if change.unchanged:
        return PoolOutcome.UNCHANGED
    return PoolOutcome.ADDED if change.new_pool else PoolOutcome.CHANGED


class Importer:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        dry_run: bool = False,
        on_event: EventSink = _noop_event,
        on_progress: ProgressSink = _noop_progress,
        should_stop: StopCheck = lambda: None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.dry_run = dry_run
        self.emit = on_event
        self.on_progress = on_progress
        self.should_stop = should_stop

    def run(self, router_id: int) -> ImportResult:
        started = time.perf_counter()
        with Session(self.engine) as session:
            router = session.get(Router, router_id)
            if router is None:
                raise LookupError(f"router {router_id} no longer exists")
            result = ImportResult(router=router.name, dry_run=self.dry_run)
        try:
            target = router_target(router, SecretBox(self.settings.key_file))
            snapshot = self._read(target)
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
            result.fail(f"reading pools failed: {exc}")
            self.emit(event(EventKind.ROUTER_READ_FAILED, {"error": str(exc), "kind": "secret"}))
            return self._finish(result, started)
        except RouterError as exc:
            result.status = JobStatus.FAILED
            result.fail(f"reading pools failed: {exc}")
            self.emit(event(EventKind.ROUTER_READ_FAILED, {"error": str(exc), "kind": exc.kind}))
            self._record_router_status(router_id, str(exc))
            return self._finish(result, started)
        self._record_router_status(router_id, None)
        result.warnings.extend(snapshot.warnings)
        for warning in snapshot.warnings:
            self.emit(event(EventKind.ROUTER_WARNING, warning=warning))
        self._write_all(router_id, snapshot, result)
        return self._finish(result, started)

    def _read(self, target: RouterTarget) -> RouterSnapshot:
        endpoint = {"host": target.host, "port": target.port}
        self.emit(event(EventKind.ROUTER_CONNECTING, endpoint, address=target.address))
        with RouterClient(target, should_stop=self.should_stop) as client:
            snapshot = read_snapshot(client)
        addresses = sum(spec.total for spec in snapshot.pools)
        pools = len(snapshot.pools)
        self.emit(event(EventKind.ROUTER_READ, {"pools": pools}, pools=pools, addresses=addresses))
        return snapshot

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

    def _write_all(self, router_id: int, snapshot: RouterSnapshot, result: ImportResult) -> None:
        pools = snapshot.pools
        expandable = [
            s.total for s in pools if s.error is None and s.total <= self.settings.max_addresses_per_pool
        ]
        addresses_total = sum(expandable)
        progress = {"pools": 0, "addresses": 0}

        def on_batch(count: int) -> None:
            progress["addresses"] += count
            self.on_progress(progress["pools"], len(pools), progress["addresses"], addresses_total)
            reason = self.should_stop()
            if reason:
                raise ImportStopped(reason)

        result.pools["total"] = len(pools)
        self.on_progress(0, len(pools), 0, addresses_total)
        try:
            for spec in pools:
                reason = self.should_stop()
                if reason:
                    raise ImportStopped(reason)
                self._write_one(router_id, spec, result, on_batch)
                progress["pools"] += 1
                self.on_progress(progress["pools"], len(pools), progress["addresses"], addresses_total)
            self._stale_pools(router_id, snapshot, result)
        except ImportStopped as stop:
            result.fail(str(stop))
            result.status = JobStatus.FAILED
            self.emit(event(EventKind.JOB_STOPPED, {"reason": str(stop)}, reason=stop))

    def _write_one(
        self, router_id: int, spec: PoolSpec, result: ImportResult, on_batch: Callable[[int], None]
    ) -> None:
        for warning in spec.warnings:
            result.warnings.append(warning)
            self.emit(event(EventKind.POOL_WARNING, {"pool": spec.name}, warning=warning))
        if spec.error is not None:
            self._pool_failed(spec, spec.error, result)
            return
        if spec.total > self.settings.max_addresses_per_pool:
            limit = self.settings.max_addresses_per_pool
            too_large = event(
                EventKind.POOL_TOO_LARGE,
                {"pool": spec.name, "total": spec.total},
                pool=spec.name,
                total=spec.total,
                limit=limit,
            )
            result.warnings.append(too_large.message)
            self.emit(too_large)
        try:
            with self.engine.begin() as conn:
                writer = PoolWriter(
                    conn,
                    router_id,
                    batch_size=self.settings.batch_size,
                    max_addresses=self.settings.max_addresses_per_pool,
                    now=utcnow(),
                    dry_run=self.dry_run,
                    on_batch=on_batch,
                )
                change = writer.write(spec)
                if self.dry_run:
                    conn.rollback()
        except ImportStopped:
            raise
        except DBAPIError as exc:
            self._pool_failed(spec, f"database error: {describe(exc)}", result)
            return
        except Exception as exc:  # a bug or a surprise in one pool's data must not cost the other pools
            self._pool_failed(spec, f"internal error: {describe(exc)}", result)
            return
        report = PoolReport(
            name=spec.name,
            family=spec.family,
            outcome=_outcome(change),
            total=change.total,
            added=change.added,
            updated=change.updated,
            stale=change.stale,
            expanded=change.expanded,
        )
        result.details.append(report)
        result.pools["imported"] += 1
        for key in ("added", "updated", "stale", "total"):
            result.addresses[key] += getattr(change, key)
        counts = {"added": change.added, "updated": change.updated, "stale": change.stale}
        data = {"pool": spec.name, "addresses": change.total, "outcome": report.outcome, **counts}
        self.emit(
            event(
                EventKind.POOL_IMPORTED, data, pool=spec.name, addresses=change.total, outcome=report.outcome
            )
        )

    def _pool_failed(self, spec: PoolSpec, message: str, result: ImportResult) -> None:
        result.pools["failed"] += 1
        result.fail(message, spec.name)
        result.details.append(
            PoolReport(name=spec.name, family=spec.family, outcome=PoolOutcome.FAILED, error=message)
        )
        failed = {"pool": spec.name, "outcome": PoolOutcome.FAILED}
        self.emit(event(EventKind.POOL_FAILED, failed, pool=spec.name, error=message))

    def _stale_pools(self, router_id: int, snapshot: RouterSnapshot, result: ImportResult) -> None:
        present = {(spec.family, spec.name) for spec in snapshot.pools}
        with self.engine.begin() as conn:
            pools, addresses = mark_missing_pools_stale(
                conn, router_id, snapshot.families_read, present, self.dry_run
            )
            if self.dry_run:
                conn.rollback()
        result.pools["stale"] += pools
        result.addresses["stale"] += addresses
        if pools:
            self.emit(event(EventKind.POOLS_GONE, {"pools": pools}, pools=pools))

    def _finish(self, result: ImportResult, started: float) -> ImportResult:
        if result.status != JobStatus.FAILED and result.pools["failed"]:
            result.status = (
                JobStatus.FAILED if result.pools["failed"] == result.pools["total"] else JobStatus.PARTIAL
            )
        if result.status == JobStatus.SUCCEEDED and result.pools["total"] == 0:
            result.warnings.append("the router has no IP pools")
        result.seconds = round(time.perf_counter() - started, 3)
        return result


def run_import(engine: Engine, settings: Settings, router_id: int, **options: Any) -> ImportResult:
    return Importer(engine, settings, **options).run(router_id)
