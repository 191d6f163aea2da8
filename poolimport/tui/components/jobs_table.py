"""The jobs pane: newest first, with a progress bar, rate, elapsed time and ETA."""

from __future__ import annotations

from rich.text import Text

from poolimport.core.jobs.queries import JobRow
from poolimport.core.statuses import JobStatus
from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import FilterTable, Row


def progress(job: JobRow) -> Text:
    if job["status"] == JobStatus.RUNNING and not job["pools_total"]:
        return Text("reading router", style="italic")  # totals are known once the pools are read
    done, total = job["addresses_done"], job["addresses_total"]
    if job["status"] == JobStatus.SUCCEEDED and total == 0:
        done = total = 1
    return cells.bar(done, total)


def origin(job: JobRow) -> str:
    """Where the job came from: the queue or a terminal's `import --sync`, and whether it is a dry run."""
    return f"{job['source']} dry" if job["dry_run"] else str(job["source"])


class JobsTable(FilterTable):
    BORDER_TITLE = "Jobs"
    COLUMNS = (
        ("id", "#", 5),
        ("router", "Router", 13),
        ("status", "Status", 9),
        ("progress", "Progress", 14),
        ("pools", "Pools", 5),
        ("addresses", "Addresses", 15),
        ("rate", "Rate", 10),
        ("elapsed", "Elapsed", 7),
        ("eta", "ETA", 6),
        ("attempt", "Try", 3),
        ("source", "From", 9),
        ("error", "Error", 80),
    )
    NARROW_COLUMNS = ("id", "router", "status", "progress", "addresses", "eta", "error")

    def show(self, jobs: list[JobRow]) -> None:
        rows: list[tuple[str, Row]] = []
        for job in jobs:
            rate, eta = cells.rate_and_eta(job)
            rows.append(
                (
                    str(job["id"]),
                    {
                        "id": Text(str(job["id"]), justify="right"),
                        "router": cells.plain(job["router"]),
                        "status": cells.status(job["status"]),
                        "progress": progress(job),
                        "pools": f"{job['pools_done']}/{job['pools_total']}",
                        "addresses": f"{job['addresses_done']:,}/{job['addresses_total']:,}",
                        "rate": rate,
                        "elapsed": cells.duration(job["elapsed"]),
                        "eta": eta,
                        "attempt": str(job["attempt"]),
                        "source": origin(job),
                        "error": cells.error(job["error"] or ""),
                    },
                )
            )
        self.show_rows(rows)
