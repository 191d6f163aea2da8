"""Retrying every failure retries only failures nothing newer has superseded; a dismissed failure leaves
the failed views (`failed`, the TUI's `:failed`, retry-all) but stays in the history. On SQLite and
PostgreSQL through core, and through the real `poolimport` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from poolimport.core.access.identity import Identity
from poolimport.core.access.tenancy import AccessDenied, Scope
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.jobs.actions import JobActions
from poolimport.core.jobs.lifecycle import create_job, finish
from poolimport.core.jobs.queries import JobFilter, list_jobs
from poolimport.core.models import AuditEvent, ImportJob, Operator, Router, Tenant
from tests.conftest import ADMIN, run_cli

INTERVAL = 5.0


def job(engine: Engine, router_id: int, status: str) -> int:
    """A job of the router that ends `status` (or stays queued / running)."""
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None
        job_id = create_job(session, ADMIN, router, time_limit=60, heartbeat_interval=INTERVAL).id
    if status != "queued":
        with engine.begin() as conn:
            conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(status="running"))
            if status != "running":
                finish(conn, job_id, status, error="boom" if status == "failed" else None)
    return job_id


def retried_jobs(engine: Engine, created: list[int]) -> set[int | None]:
    with session_scope(engine) as session:
        return {session.get(ImportJob, job_id).retry_of_id for job_id in created}  # type: ignore[union-attr]


def failed_ids(engine: Engine, scope: Scope = ADMIN) -> list[int]:
    with session_scope(engine) as session:
        rows = list_jobs(session, scope, INTERVAL, status="failed+stalled", limit=None)
    return sorted(row["id"] for row in rows)


def actions_of(settings: Settings) -> JobActions:
    return JobActions(settings, send=str)


def test_retry_all_failed_skips_superseded_failures_and_retries_each_routers_newest(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> None:
    a, b, c, d = (any_add_router(name=name, port=1) for name in ("a", "b", "c", "d"))
    job(any_engine, a, "failed")
    job(any_engine, a, "succeeded")  # A's failure is superseded
    job(any_engine, b, "failed")
    b_newest = job(any_engine, b, "failed")
    job(any_engine, c, "failed")
    job(any_engine, c, "queued")  # C already has a new attempt on its way
    d_failed = job(any_engine, d, "failed")
    actions = actions_of(any_settings)
    assert actions.dismiss([d_failed]).dismissed == [d_failed]

    outcome = actions.retry_all_failed()

    assert outcome.refused == []
    assert retried_jobs(any_engine, outcome.created) == {b_newest}
    assert actions.retry_all_failed().created == []  # B's retry is queued: nothing is left to retry


def test_a_dry_run_supersedes_nothing_and_the_drill_narrows_what_is_retried(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> None:
    """A dry run changes nothing stored: the failure before it still needs a real import. And `R` under
    `:router` (or `:tenant`) retries that router's (or tenant's) failures only."""
    a, b = (any_add_router(name=name, port=1) for name in ("a", "b"))
    a_failed = job(any_engine, a, "failed")
    dry = job(any_engine, a, "queued")
    with any_engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == dry).values(dry_run=True))
    finish_dry = job(any_engine, b, "failed")
    with any_engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == dry).values(status="running"))
        finish(conn, dry, "succeeded")
    actions = actions_of(any_settings)

    only_a = actions.retry_all_failed(JobFilter(router_id=a))

    assert retried_jobs(any_engine, only_a.created) == {a_failed}
    assert retried_jobs(any_engine, actions.retry_all_failed().created) == {finish_dry}


def test_a_partial_or_cancelled_newer_job_supersedes_too(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> None:
    partial, cancelled = (any_add_router(name=name, port=1) for name in ("p", "c"))
    job(any_engine, partial, "failed")
    job(any_engine, partial, "partial")
    job(any_engine, cancelled, "failed")
    job(any_engine, cancelled, "cancelled")
    actions = actions_of(any_settings)
    assert actions.retry_all_failed().created == []


def test_a_dismissed_failure_leaves_the_failed_view_but_stays_in_history_and_is_audited(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> None:
    router = any_add_router(name="r", port=1)
    first, second = job(any_engine, router, "failed"), job(any_engine, router, "failed")
    assert failed_ids(any_engine) == [first, second]
    actions = actions_of(any_settings)

    outcome = actions.dismiss([first, second])

    assert outcome.dismissed == [first, second] and outcome.refused == []
    assert failed_ids(any_engine) == []
    with session_scope(any_engine) as session:
        history = list_jobs(session, ADMIN, INTERVAL, limit=None)
        audited = session.scalars(select(AuditEvent.job_id).where(AuditEvent.action == "dismiss")).all()
    assert sorted(row["id"] for row in history) == [first, second]
    assert all(row["status"] == "failed" and row["dismissed_at"] for row in history)
    assert sorted(audited) == [first, second]
    assert actions.retry_all_failed().created == []


def test_dismiss_refuses_what_is_not_a_failure_and_what_is_not_there_alike(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> None:
    mine = any_add_router(name="mine", tenant="north", port=1)
    theirs = any_add_router(name="theirs", tenant="south", port=1)
    ok, failed = job(any_engine, mine, "succeeded"), job(any_engine, mine, "failed")
    hidden = job(any_engine, theirs, "failed")
    with session_scope(any_engine) as session:
        north = session.scalar(select(Tenant.id).where(Tenant.name == "north"))
        session.add(Operator(name="nora", tenant_id=north, role="operator"))
    outcome = acting_as(any_settings, "nora").dismiss([ok, failed, hidden, 999])
    assert outcome.dismissed == [failed]
    assert outcome.refused == [
        f"job #{ok} is succeeded: only failed jobs can be dismissed",
        f"no job #{hidden}",
        "no job #999",
    ]
    again = acting_as(any_settings, "nora").dismiss([failed])
    assert again.refused == [f"job #{failed} is already dismissed"]
    assert failed_ids(any_engine) == [hidden]  # south's failure is untouched


def acting_as(settings: Settings, operator: str) -> JobActions:
    """The test's account, an administrator, acting as `operator` (POOLIMPORT_OPERATOR)."""
    identity = Identity(asker=settings.identity.asker, acting_as=operator)
    return JobActions(replace(settings, identity=identity), send=str)


def test_a_viewer_may_not_dismiss_and_the_refusal_is_audited(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> None:
    failed = job(any_engine, any_add_router(name="r", port=1), "failed")
    with session_scope(any_engine) as session:
        session.add(Operator(name="vic", tenant_id=None, role="viewer"))
    with pytest.raises(AccessDenied, match="vic is a viewer and may not dismiss jobs"):
        acting_as(any_settings, "vic").dismiss([failed])

    assert failed_ids(any_engine) == [failed]
    with session_scope(any_engine) as session:
        audited = session.execute(
            select(AuditEvent.acting_as, AuditEvent.outcome, AuditEvent.job_id).where(
                AuditEvent.action == "dismiss"
            )
        ).all()
    assert [tuple(row) for row in audited] == [("vic", "refused", failed)]


# -- the CLI -------------------------------------------------------------------------------------------


def as_json(*args: str) -> Any:
    out = run_cli(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_cli_dismiss_then_failed_and_retry_all_failed(
    engine: Engine, settings: Settings, add_router: Callable[..., int]
) -> None:
    a, b = add_router(name="a", port=1), add_router(name="b", port=1)
    a_failed = job(engine, a, "failed")
    job(engine, a, "succeeded")
    b_old, b_new = job(engine, b, "failed"), job(engine, b, "failed")
    assert [row["id"] for row in as_json("failed")] == [b_new, b_old, a_failed]

    succeeded = b_old - 1
    dismissed = run_cli("dismiss", str(b_old), str(succeeded))
    assert (dismissed.returncode, dismissed.stdout) == (1, f"job #{b_old} dismissed\n")
    assert dismissed.stderr == f"error: job #{succeeded} is succeeded: only failed jobs can be dismissed\n"
    assert [row["id"] for row in as_json("failed")] == [b_new, a_failed]
    assert b_old in [row["id"] for row in as_json("jobs")]

    retried = as_json("retry", "--all-failed")
    assert retried["refused"] == [] and len(retried["job_ids"]) == 1
    assert as_json("job", "show", str(retried["job_ids"][0]))["retry_of"] == b_new

    nothing = run_cli("retry", "--all-failed")
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (0, "no failed jobs to retry\n", "")
    bad = run_cli("dismiss", "999")
    assert (bad.returncode, bad.stdout, bad.stderr) == (1, "", "error: no job #999\n")


def test_a_job_is_retried_once_then_its_retry_is_the_one_to_retry(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> None:
    failed = job(any_engine, any_add_router(name="a", port=1), "failed")
    actions = actions_of(any_settings)
    (first,) = actions.retry([failed]).created
    with any_engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == first).values(status="running"))
        finish(conn, first, "failed", error="boom again")

    again = actions.retry([failed])

    assert (again.created, again.refused) == (
        [],
        [f"job #{failed} was retried already as #{first}: retry that"],
    )
    assert retried_jobs(any_engine, actions.retry([first]).created) == {first}
