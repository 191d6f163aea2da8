"""A second import kind, here in the tests only, proves the interface: a kind is one class and one
registration. It reads the router's identity and version and writes them on the router's row; the job
layer, events, stop checks and the one-live-job rule come with it unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from poolimport.core.access.tenancy import find_router
from poolimport.core.config import Settings
from poolimport.core.db import session_scope
from poolimport.core.errors import InvalidInput
from poolimport.core.events import EventKind
from poolimport.core.imports import kinds as import_kinds
from poolimport.core.imports.run import ImportResult, ImportRun
from poolimport.core.jobs.lifecycle import JobRefused, create_job
from poolimport.core.jobs.runner import execute_job
from poolimport.core.models import ImportJob, IpPool, Router
from poolimport.core.routers.api import RouterClient
from poolimport.sim import SimServer
from tests.conftest import ADMIN
from tests.helpers import events, kinds


class IdentityKind:
    name = "identity"
    title = "router identity"

    def read(self, client: RouterClient) -> tuple[str, str]:
        identity, version, _rtt = client.identity()
        return identity, version

    def write(self, run: ImportRun, data: tuple[str, str], result: ImportResult) -> None:
        if run.dry_run:
            return
        with run.engine.begin() as conn:
            conn.execute(
                update(Router).where(Router.id == run.router_id).values(identity=data[0], version=data[1])
            )

    def settle(self, result: ImportResult) -> None:
        pass


@pytest.fixture
def identity_kind() -> Iterator[IdentityKind]:
    kind = IdentityKind()
    import_kinds.register(kind)
    yield kind
    import_kinds._KINDS.pop(kind.name)


def queue_job(engine: Engine, settings: Settings, router: str, **options: Any) -> int:
    with session_scope(engine) as session:
        job = create_job(
            session,
            ADMIN,
            find_router(session, ADMIN, router),
            time_limit=settings.job_time_limit,
            heartbeat_interval=settings.heartbeat_interval,
            **options,
        )
        return job.id


def test_a_registered_kind_runs_as_a_job_with_the_same_events_and_writes_its_own_data(
    engine: Engine,
    settings: Settings,
    sim: SimServer,
    add_router: Callable[..., int],
    identity_kind: IdentityKind,
) -> None:
    router_id = add_router(sim, name="core")
    job_id = queue_job(engine, settings, "core", kind="identity")
    run = execute_job(engine, settings, job_id)
    assert run is not None and run.status == "succeeded"
    assert kinds(engine, job_id) == [
        EventKind.JOB_QUEUED,
        EventKind.JOB_STARTED,
        EventKind.ROUTER_CONNECTING,
        EventKind.JOB_SUCCEEDED,
    ]
    assert events(engine, job_id)[1].message == "Starting router identity import job"
    with session_scope(engine) as session:
        router = session.get(Router, router_id)
        assert router is not None and (router.identity, router.last_status) == ("test-router", "ok")
        assert session.scalar(select(ImportJob.kind).where(ImportJob.id == job_id)) == "identity"
        assert session.scalars(select(IpPool)).all() == []  # the pools kind did not run


def test_one_live_job_per_router_and_kind(
    engine: Engine, settings: Settings, add_router: Callable[..., int], identity_kind: IdentityKind
) -> None:
    add_router(None, name="core", port=1)
    queue_job(engine, settings, "core")  # pools
    queue_job(engine, settings, "core", kind="identity")  # another kind: allowed alongside
    with pytest.raises(JobRefused, match="already has job"):
        queue_job(engine, settings, "core", kind="identity")


def test_a_kind_this_installation_does_not_know_is_refused(
    engine: Engine, settings: Settings, add_router: Callable[..., int]
) -> None:
    add_router(None, name="core", port=1)
    with pytest.raises(InvalidInput, match="no import kind 'dhcp-leases' here"):
        queue_job(engine, settings, "core", kind="dhcp-leases")


def test_a_queued_job_of_a_kind_since_unregistered_fails_saying_so(
    engine: Engine, settings: Settings, add_router: Callable[..., int], identity_kind: IdentityKind
) -> None:
    add_router(None, name="core", port=1)
    job_id = queue_job(engine, settings, "core", kind="identity")
    import_kinds._KINDS.pop("identity")
    try:
        run = execute_job(engine, settings, job_id)
    finally:
        import_kinds.register(identity_kind)
    assert run is not None and run.status == "failed"
    with session_scope(engine) as session:
        job = session.get(ImportJob, job_id)
        assert job is not None and job.status == "failed" and "no import kind 'identity'" in (job.error or "")
    assert kinds(engine, job_id)[-1] == EventKind.JOB_FAILED
