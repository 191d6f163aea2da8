"""The IP pools import kind: read the router's pools and their leases, then write each pool in its own
transaction, reporting as it goes. Pools that vanished from the router are marked stale."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from poolimport.core.errors import describe
from poolimport.core.events import EventKind, event
from poolimport.core.imports.pools.snapshot import PoolSpec, RouterSnapshot, read_snapshot
from poolimport.core.imports.pools.writer import PoolChange, PoolWriter, mark_missing_pools_stale
from poolimport.core.imports.run import ImportResult, ImportRun, ImportStopped, PoolReport
from poolimport.core.models import utcnow
from poolimport.core.statuses import JobStatus, PoolOutcome


class PoolsKind:
    name = "pools"
    title = "IP pools"

    read = staticmethod(read_snapshot)

    def write(self, run: ImportRun, snapshot: RouterSnapshot, result: ImportResult) -> None:
        read = len(snapshot.pools)
        addresses = sum(spec.total for spec in snapshot.pools)
        run.emit(event(EventKind.ROUTER_READ, {"pools": read}, pools=read, addresses=addresses))
        result.warnings.extend(snapshot.warnings)
        for warning in snapshot.warnings:
            run.emit(event(EventKind.ROUTER_WARNING, warning=warning))
        writing = _PoolsWrite(run)
        pools = snapshot.pools
        expandable = [
            s.total for s in pools if s.error is None and s.total <= run.settings.max_addresses_per_pool
        ]
        addresses_total = sum(expandable)
        progress = {"pools": 0, "addresses": 0}

        def on_batch(count: int) -> None:
            progress["addresses"] += count
            run.on_progress(progress["pools"], len(pools), progress["addresses"], addresses_total)
            reason = run.should_stop()
            if reason:
                raise ImportStopped(reason)

        result.pools["total"] = len(pools)
        run.on_progress(0, len(pools), 0, addresses_total)
        for spec in pools:
            reason = run.should_stop()
            if reason:
                raise ImportStopped(reason)
            writing.write_one(run.router_id, spec, result, on_batch)
            progress["pools"] += 1
            run.on_progress(progress["pools"], len(pools), progress["addresses"], addresses_total)
        writing.stale_pools(run.router_id, snapshot, result)

    def settle(self, result: ImportResult) -> None:
        if result.status != JobStatus.FAILED and result.pools["failed"]:
            failed_all = result.pools["failed"] == result.pools["total"]
            result.status = JobStatus.FAILED if failed_all else JobStatus.PARTIAL
        if result.status == JobStatus.SUCCEEDED and result.pools["total"] == 0:
            result.warnings.append("the router has no IP pools")


POOLS = PoolsKind()


def _outcome(change: PoolChange) -> PoolOutcome:
    if change.unchanged:
        return PoolOutcome.UNCHANGED
    return PoolOutcome.ADDED if change.new_pool else PoolOutcome.CHANGED


class _PoolsWrite:
    def __init__(self, run: ImportRun) -> None:
        self.run = run

    def write_one(
        self, router_id: int, spec: PoolSpec, result: ImportResult, on_batch: Callable[[int], None]
    ) -> None:
        for warning in spec.warnings:
            result.warnings.append(warning)
            self.run.emit(event(EventKind.POOL_WARNING, {"pool": spec.name}, warning=warning))
        if spec.error is not None:
            self._pool_failed(spec, spec.error, result)
            return
        if spec.total > self.run.settings.max_addresses_per_pool:
            limit = self.run.settings.max_addresses_per_pool
            too_large = event(
                EventKind.POOL_TOO_LARGE,
                {"pool": spec.name, "total": spec.total},
                pool=spec.name,
                total=spec.total,
                limit=limit,
            )
            result.warnings.append(too_large.message)
            self.run.emit(too_large)
        try:
            with self.run.engine.begin() as conn:
                writer = PoolWriter(
                    conn,
                    router_id,
                    batch_size=self.run.settings.batch_size,
                    max_addresses=self.run.settings.max_addresses_per_pool,
                    now=utcnow(),
                    dry_run=self.run.dry_run,
                    on_batch=on_batch,
                )
                change = writer.write(spec)
                if self.run.dry_run:
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
        self.run.emit(
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
        failed = {"pool": spec.name, "outcome": PoolOutcome.FAILED, "error": message}
        self.run.emit(event(EventKind.POOL_FAILED, failed, pool=spec.name, error=message))

    def stale_pools(self, router_id: int, snapshot: RouterSnapshot, result: ImportResult) -> None:
        present = {(spec.family, spec.name) for spec in snapshot.pools}
        with self.run.engine.begin() as conn:
            pools, addresses = mark_missing_pools_stale(
                conn, router_id, snapshot.families_read, present, self.run.dry_run
            )
            if self.run.dry_run:
                conn.rollback()
        result.pools["stale"] += pools
        result.addresses["stale"] += addresses
        if pools:
            self.run.emit(event(EventKind.POOLS_GONE, {"pools": pools}, pools=pools))
