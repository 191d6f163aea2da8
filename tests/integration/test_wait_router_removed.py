"""`import --wait` on a job whose router an administrator removes meanwhile: said, not a refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from sqlalchemy import Engine, select

from poolimport.core.db import session_scope
from poolimport.core.models import ImportJob, Router
from poolimport.core.routers.records import remove_router
from tests.conftest import ADMIN
from tests.helpers import wait_for


def test_a_job_gone_with_its_router_while_waited_on_is_said_and_the_json_keeps_its_shape(
    engine: Engine, add_router: Callable[..., int]
) -> None:
    router_id = add_router(None, name="r1", port=1)  # no consumer: the job waits, queued
    waiting = subprocess.Popen(
        [sys.executable, "-m", "poolimport.cli", "import", "r1", "--wait", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:

        def queued() -> int | None:
            with engine.connect() as conn:
                return conn.scalar(select(ImportJob.id).where(ImportJob.router_id == router_id))

        job_id = wait_for(queued, 60, "the job queued")
        with session_scope(engine) as session:
            remove_router(session, ADMIN, session.get(Router, router_id))
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 1 and "Traceback" not in err, err
    assert json.loads(out) == {"job_ids": [job_id], "refused": [], "results": []}
    assert f"job #{job_id} is gone: its router was removed" in err
