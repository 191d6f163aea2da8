"""The main screen's `:` commands, as k9s has them: one line in, one typed command (or why not) out.

Pure: no widget, no database. Whether the job, router or tenant named exists (in the operator's tenants)
is for the screen to find out; here only what the line says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from poolimport.core.models import parse_id

# (as typed after `:`, what it does): the help screen (`?`) lists them; the notice only names them.
USAGE = (
    ("job ID", "the job in full, loaded or not"),
    ("router NAME", "that router's jobs (alone: every router's again)"),
    ("tenant NAME", "that tenant's routers and jobs (alone: every tenant's)"),
    ("failed", "failed and stalled jobs, not those dismissed"),
    ("all", "every router and job again"),
    ("help", "these commands"),
)
HELP = "commands: " + ", ".join(f":{usage}" for usage, _ in USAGE) + " (`?` says what each does)"
JOB_USAGE = "`:job` wants a job number, as in `:job 42`"
SHOWN_DIGITS = 20  # of a number too large to be a job's, in the notice


@dataclass(frozen=True)
class ShowJob:
    job_id: int


@dataclass(frozen=True)
class ShowRouter:
    name: str | None  # None: back to every router's jobs


@dataclass(frozen=True)
class ShowTenant:
    name: str | None  # None: every tenant again


@dataclass(frozen=True)
class ShowFailed:
    pass


@dataclass(frozen=True)
class ShowAll:
    pass


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class CommandError:
    message: str


Command = ShowJob | ShowRouter | ShowTenant | ShowFailed | ShowAll | ShowHelp
# The words, in the order completion offers them; those that take a name end in a space when completed.
WORDS = ("job", "router", "tenant", "failed", "all", "help")
TAKES_ARGUMENT = ("job", "router", "tenant")


def _split(text: str) -> tuple[str, str]:
    """(command word in lower case, the rest as typed but trimmed); a leading `:` is the prompt's."""
    word, _, rest = text.strip().removeprefix(":").strip().partition(" ")
    return word.lower(), rest.strip()


def _job(rest: str) -> ShowJob | CommandError:
    number = rest.removeprefix("#")
    if not (number.isascii() and number.isdigit()):
        return CommandError(JOB_USAGE)
    job_id = parse_id(number)
    if job_id is None:  # what the database would say, without asking it (nor repeating 10,000 digits)
        return CommandError(f"no job #{number[:SHOWN_DIGITS]}{'…' if len(number) > SHOWN_DIGITS else ''}")
    return ShowJob(job_id)


def parse(text: str) -> Command | CommandError | None:
    """The command a line says; None for an empty line (nothing to do)."""
    word, rest = _split(text)
    if not word:
        return None
    if word == "job":
        return _job(rest)
    if word == "router":
        return ShowRouter(rest or None)
    if word == "tenant":
        return ShowTenant(rest or None)
    plain: dict[str, Command] = {"failed": ShowFailed(), "all": ShowAll(), "help": ShowHelp()}
    if word in plain:
        return CommandError(f"`:{word}` takes nothing after it") if rest else plain[word]
    return CommandError(f"no command `{word}`; {HELP}")


def complete(text: str, routers: Iterable[str], tenants: Iterable[str]) -> str | None:
    """`text` completed: the first command word it begins, or the first router or tenant name after
    `router ` / `tenant `; None when nothing longer fits."""
    if " " not in text.strip() and not text.endswith(" "):
        prefix = text.strip()
        bare = prefix.removeprefix(":").lower()
        if not bare:
            return None
        for word in WORDS:
            if word.startswith(bare) and (word != bare or word in TAKES_ARGUMENT):
                return prefix[: len(prefix) - len(bare)] + word + (" " if word in TAKES_ARGUMENT else "")
        return None
    word, rest = _split(text)
    names = {"router": routers, "tenant": tenants}.get(word)
    if names is None or not rest:
        return None
    for name in sorted(names):
        if name.startswith(rest) and name != rest:
            return text[: text.rindex(rest)] + name
    return None


@dataclass(frozen=True)
class Drill:
    """What the `:` commands narrowed the panes to; the default, nothing: every job in the scope."""

    router_id: int | None = None  # :router NAME
    router: str | None = None
    tenant_id: int | None = None  # :tenant NAME
    tenant: str | None = None

    def words(self) -> list[str]:
        """For the jobs pane's title."""
        return ([f"tenant {self.tenant}"] if self.tenant else []) + (
            [f"router {self.router}"] if self.router else []
        )
