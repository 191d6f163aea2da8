"""The queue: Huey carrying job ids, built from settings (app.py).

`huey_consumer poolimport.queue.huey -w 4 -k thread` runs the instance named here, built from the
settings when first asked for. Tasks carry a job id and nothing else; the work, and the job's state,
belong to core.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Built on first use, not on import: a process that only sends (the CLI, the TUI) builds its own.
    if name == "huey":
        from poolimport.core.config import load_settings
        from poolimport.queue.app import make_huey

        instance = globals()["huey"] = make_huey(load_settings())
        return instance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
