"""The jobs pane: newest first, with a progress bar, rate, elapsed time and ETA.

Its `/` search and its status keys (JOB_VIEWS) are the database's: the main screen's poll reads the jobs
that match, newest first, a page at a time (`m`: older). Sorting by a column (`o`, `O`) orders the jobs
read, the newest page(s), not every job there is: the title then says so. Space marks jobs for `r` and `x`
(a `*` before the number: it reads without colour too)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from rich.text import Text

from poolimport.core.jobs.queries import JobRow
from poolimport.core.statuses import FINISHED_JOB_STATUSES, JobStatus
from poolimport.tui.components import cells
from poolimport.tui.components.filter_table import Cell, FilterTable, Row

# The status keys' views of the jobs: the statuses each holds (none: every job).
JOB_VIEWS: dict[str, tuple[str, ...]] = {
    "all": (),
    "failed": (JobStatus.FAILED, JobStatus.STALLED),
    "running": (JobStatus.RUNNING,),
    "queued": (JobStatus.QUEUED,),
    "finished": FINISHED_JOB_STATUSES,
}


def view_help(view: str) -> str:
    statuses = " or ".join(JOB_VIEWS[view])
    return f"jobs pane: only {statuses} jobs (with its / search)" if statuses else "jobs pane: every job"


MARK = "*"


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
    # At 80 columns the error keeps a readable start (the selected job's first line is under the pane, enter
    # shows it whole); the progress bar's percentage stands in for the address counts.
    NARROW_COLUMNS = ("id", "router", "status", "progress", "eta", "error")
    SEARCHES_DATABASE = True

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

    def show(self, jobs: list[JobRow]) -> None:
        self._jobs = jobs
        self.marked &= {str(job["id"]) for job in jobs}  # a mark on a job no longer shown would act unseen
        rows: list[tuple[str, Row]] = []
        values: dict[str, Mapping[str, object]] = {}
        for job in jobs:
            key = str(job["id"])
            marked = key in self.marked
            row, values[key] = self.built(key, (job, marked), partial(job_cells, job, marked))
            rows.append((key, row))
        self.show_rows(rows, values)


def id_cell(job_id: int, marked: bool) -> Text:
    if marked:
        return Text(f"{MARK}{job_id}", justify="right", style="bold reverse")
    return Text(str(job_id), justify="right")


def job_cells(job: JobRow, marked: bool = False) -> tuple[Row, Mapping[str, object]]:
    """A job's cells, and what the numeric ones sort by."""
    rate, eta = cells.rate_and_eta(job)
    elapsed, done, total = job["elapsed"], job["addresses_done"], job["addresses_total"]
    per_second = done / elapsed if elapsed and done else None
    values: dict[str, object] = {
        "progress": done / total if total else None,
        "pools": job["pools_done"],
        "addresses": done,
        "rate": per_second,
        "elapsed": elapsed,
        "eta": (total - done) / per_second if per_second and eta != "-" else None,
    }
    row: dict[str, Cell] = {
        "id": id_cell(job["id"], marked),
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
    }
    return row, values
