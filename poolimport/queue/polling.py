"""How often an idle consumer reads the queue, so how soon it takes a job sent to it; and so how long
`import --wait` lets a job wait before it asks why nobody took it. The one home for both.

Huey's consumer reads a queue it polls (SQLite) with a growing wait between empty reads, up to its
max_delay: 10 s by default (`huey_consumer`'s too), so a job sent to a consumer idle for a minute waited up
to 10 s. Every poolimport consumer, however started, waits at most IDLE_POLLING's max_delay. RedisHuey
blocks on the list instead (a message wakes it at once); its waits only follow a failed read.
"""

from __future__ import annotations

SQLITE_POLLING = {"initial_delay": 0.05, "backoff": 1.1, "max_delay": 0.5}
REDIS_POLLING = {"initial_delay": 0.05, "backoff": 1.1, "max_delay": 1.0}


def polling(blocking: bool) -> dict[str, float]:
    """The consumer's polling options for a queue whose reads block (Redis) or not (SQLite)."""
    return REDIS_POLLING if blocking else SQLITE_POLLING


# The longest an idle consumer leaves the queue unread, whatever its queue.
LONGEST_IDLE_POLL = max(SQLITE_POLLING["max_delay"], REDIS_POLLING["max_delay"])
# A job still queued after this many of those reads was not merely waiting for an idle consumer's next
# read: `import --wait` then says what else it may be (no consumer, a busy one, a dropped message).
QUEUED_HINT_AFTER = 5 * LONGEST_IDLE_POLL
