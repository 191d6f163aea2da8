"""The rotating file log that mirrors job events: `$POOLIMPORT_HOME/logs/poolimport.log`."""

from __future__ import annotations

import json
import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

LOGGER_NAME = "poolimport.jobs"
_configured: set[Path] = set()


def job_logger(log_dir: Path) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    path = log_dir / "poolimport.log"
    if path not in _configured:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        _configured.add(path)
    return logger


def log_event(logger: logging.Logger, job_id: int, level: str, message: str, data: dict[str, Any]) -> None:
    suffix = f" {json.dumps(data, ensure_ascii=False, default=str)}" if data else ""
    logger.log(logging.getLevelName(level.upper()), "job=%s %s%s", job_id, message, suffix)
