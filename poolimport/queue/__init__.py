"""The Huey instance, built from settings: `huey_consumer poolimport.queue.huey -w 4 -k thread`.

Tasks carry a job id and nothing else; the work, and the job's state, belong to core.
"""

from poolimport.queue.app import huey, revoke_task, send_import

__all__ = ["huey", "revoke_task", "send_import"]
