"""The jobs pane: newest first, with a progress bar, rate, elapsed time and ETA; space marks jobs for `r`
and `x` (a `*` before the number: it reads without colour too)."""

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
    MARK = "*"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.marked: set[str] = set()  # job ids, as row keys
        self._jobs: list[JobRow] = []

    def toggle_mark(self, key: str) -> None:
        self.marked ^= {key}
        self.show(self._jobs)

    def clear_marks(self) -> None:
        self.marked.clear()
        self.show(self._jobs)

    def _id_cell(self, job_id: int) -> Text:
        if str(job_id) in self.marked:
            return Text(f"{self.MARK}{job_id}", justify="right", style="bold reverse")
        return Text(str(job_id), justify="right")

    def show(self, jobs: list[JobRow]) -> None:
        self._jobs = jobs
        self.marked &= {str(job["id"]) for job in jobs}  # a mark on a job no longer shown would act unseen
        rows: list[tuple[str, Row]] = []
        for job in jobs:
            rate, eta = cells.rate_and_eta(job)
            rows.append(
                (
                    str(job["id"]),
                    {
                        "id": self._id_cell(job["id"]),
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
                        "error": cells.plain(job["error"] or "", "red"),
                    },
                )
            )
        self.show_rows(rows)
