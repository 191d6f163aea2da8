"""The Huey instance, built from settings: `huey_consumer poolimport.queue.huey -w 4 -k thread`.

Tasks carry a job id and nothing else; the work, and the job's state, belong to core.
"""

from poolimport.queue.app import huey, send_import, revoke_task  # noqa: F401
from poolimport.queue import tasks  # noqa: F401  (registers the task with huey)
