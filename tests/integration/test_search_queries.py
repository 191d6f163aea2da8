"""Search and order in the database: a pool's addresses and the jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from poolimport.core.config import Settings
from poolimport.core.errors import InvalidInput
from poolimport.core.jobs.queries import FAILED_OR_STALLED, JobFilter, list_jobs
from poolimport.core.queries import address_rows
from poolimport.core.statuses import JobStatus
from tests.conftest import ADMIN
from tests.search_data import seed_jobs, seed_pool

POOL = 60_100  # past the owners the searches look for (60,001-60,003), in less time than a /16


@pytest.fixture
def pool(any_engine: Engine, any_add_router: Callable[..., int]) -> int:
    return seed_pool(any_engine, any_add_router(name="core-1"), POOL)


def addresses(engine: Engine, pool: int, **options: object) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        rows = address_rows(session, ADMIN, pool, **options)  # type: ignore[arg-type]
    return [(row["address"], row["status"], row["owner"]) for row in rows]


def test_a_search_finds_an_owner_past_the_first_page_in_any_case(any_engine: Engine, pool: int) -> None:
    assert "Needle-Owner" not in {owner for _, _, owner in addresses(any_engine, pool, limit=500)}
    assert addresses(any_engine, pool, search="nEEDLE-own", limit=500) == [
        ("10.20.234.97", "used", "Needle-Owner")
    ]


def test_a_search_looks_in_the_address_and_the_info(any_engine: Engine, pool: int) -> None:
    assert [a for a, _, _ in addresses(any_engine, pool, search="out-needle")] == ["10.20.234.97"]
    assert [a for a, _, _ in addresses(any_engine, pool, search="10.20.234.9")] == [
        f"10.20.234.{n}" for n in (9, *range(90, 100))
    ]


def test_percent_and_underscore_match_only_themselves(any_engine: Engine, pool: int) -> None:
    assert addresses(any_engine, pool, search="100%_off") == [("10.20.234.98", "used", "100%_off")]
    assert addresses(any_engine, pool, search="user_") == []
    assert addresses(any_engine, pool, search="%") == [("10.20.234.98", "used", "100%_off")]


def test_a_search_goes_with_the_status_and_the_paging(any_engine: Engine, pool: int) -> None:
    used = addresses(any_engine, pool, status="used", search="user5999")
    assert [owner for _, _, owner in used] == ["user5999", "user59990", "user59997"]  # the 7ths
    assert addresses(any_engine, pool, status="free", search="Needle") == []
    first = addresses(any_engine, pool, search="user1", limit=3)
    assert addresses(any_engine, pool, search="user1", limit=3, offset=2)[0] == first[2]


def test_addresses_order_by_owner_status_or_address_either_way(any_engine: Engine, pool: int) -> None:
    by_owner = addresses(any_engine, pool, order="owner", limit=3)
    assert [owner for _, _, owner in by_owner] == ["100%_off", "100xyoff", "Needle-Owner"]
    # No owner comes last either way on either database, then by address.
    last = ("10.20.234.195", "free", None)  # address 60,099
    assert addresses(any_engine, pool, order="owner", offset=POOL - 1) == [last]
    assert addresses(any_engine, pool, order="owner", descending=True, limit=1)[0][2] == "user9996"
    assert addresses(any_engine, pool, order="owner", descending=True, offset=POOL - 1) == [
        ("10.20.0.1", "free", None)
    ]
    assert addresses(any_engine, pool, order="address", descending=True, limit=1) == [last]
    by_status = [status for _, status, _ in addresses(any_engine, pool, order="status")]
    assert by_status == sorted(by_status)
    assert by_status[0] == "free" and by_status[-1] == "used"


def test_an_unknown_order_is_refused(any_engine: Engine, pool: int) -> None:
    with pytest.raises(InvalidInput, match="addresses sort by address, status, owner, info"):
        addresses(any_engine, pool, order="sort_key")


@pytest.fixture
def jobs(
    any_engine: Engine, any_settings: Settings, any_add_router: Callable[..., int]
) -> dict[str, list[int]]:
    for name in ("alpha", "beta", "gamma", "delta"):
        any_add_router(name=name)
    return seed_jobs(any_engine, filler=210)


def job_list(engine: Engine, settings: Settings, **options: object) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = list_jobs(session, ADMIN, settings.heartbeat_interval, **options)  # type: ignore[arg-type]
    return [(row["router"], row["status"]) for row in rows]


def test_a_job_search_looks_in_the_router_the_status_and_the_error_past_the_newest_page(
    any_engine: Engine, any_settings: Settings, jobs: dict[str, list[int]]
) -> None:
    newest = job_list(any_engine, any_settings)
    assert {router for router, _ in newest} == {"alpha"}  # the filler: JOBS lie beyond the page
    assert job_list(any_engine, any_settings, where=JobFilter(search="GAM")) == [("gamma", "running")]
    assert job_list(any_engine, any_settings, where=JobFilter(search="invalid user")) == [("alpha", "failed")]
    assert job_list(any_engine, any_settings, where=JobFilter(search="100%_")) == [("beta", "failed")]
    # The status as shown: the quiet running job is stalled, and only it.
    assert job_list(any_engine, any_settings, where=JobFilter(search="stall")) == [("beta", "stalled")]
    assert job_list(any_engine, any_settings, where=JobFilter(search="running")) == [("gamma", "running")]


def test_statuses_narrow_and_go_with_the_search(
    any_engine: Engine, any_settings: Settings, jobs: dict[str, list[int]]
) -> None:
    failing = JobFilter(statuses=(JobStatus.FAILED, JobStatus.STALLED))
    assert job_list(any_engine, any_settings, where=failing) == [
        ("beta", "stalled"),
        ("beta", "failed"),
        ("alpha", "failed"),
    ]
    assert job_list(any_engine, any_settings, status=FAILED_OR_STALLED) == job_list(
        any_engine, any_settings, where=failing
    )
    assert job_list(any_engine, any_settings, where=JobFilter("alpha", failing.statuses)) == [
        ("alpha", "failed")
    ]
    assert job_list(any_engine, any_settings, where=JobFilter(statuses=(JobStatus.QUEUED,))) == [
        ("delta", "queued")
    ]
    assert job_list(any_engine, any_settings, where=JobFilter("beta", (JobStatus.RUNNING,))) == []
