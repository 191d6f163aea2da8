"""The one task: run the job whose id it carries. Thin on purpose: core does the work and keeps the state.

A plain function: `queue.app` registers it with the Huey instance, so this module needs no queue.
"""

from __future__ import annotations

from poolimport.core.config import load_settings
from poolimport.core.db import get_engine
from poolimport.core.jobs.runner import execute_job

TASK_NAME = "poolimport.import_pools"


def import_pools(job_id: int) -> None:
    settings = load_settings()
    execute_job(get_engine(settings), settings, job_id)
