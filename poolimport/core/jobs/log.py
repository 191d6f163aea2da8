"""The rotating file log that mirrors job events: `$POOLIMPORT_HOME/logs/poolimport.log`."""

from __future__ import annotations

import json
import logging
import os
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path

from poolimport.core.events import Event
from poolimport.core.private_files import make_private, open_private, private_dir

LOGGER_NAME = "poolimport.jobs"
_configured: set[Path] = set()


class PrivateRotatingFileHandler(RotatingFileHandler):
    """Every log file it opens, the first and each one after a rotation, is 0600."""

    def _open(self) -> TextIOWrapper:
        # Appending, as RotatingFileHandler always does once it has a size limit.
        fd = open_private(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def job_logger(log_dir: Path) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    path = log_dir / "poolimport.log"
    if path not in _configured:
        private_dir(log_dir)
        make_private([log_dir, *log_dir.glob("poolimport.log*")])  # left readable by an older version
        handler = PrivateRotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        _configured.add(path)
    return logger


def log_event(logger: logging.Logger, job_id: int, happened: Event, context: str = "") -> None:
    """One line per event; `context` (such as `router=NAME `) goes before the words."""
    data = happened.data
    suffix = f" {json.dumps(data, ensure_ascii=False, default=str)}" if data else ""
    level = logging.getLevelName(happened.level.upper())
    logger.log(level, "job=%s %s%s%s", job_id, context, happened.message, suffix)
