"""What poolimport creates is private to its account: folders 0700, files 0600, whatever the umask.

The database holds router passwords (encrypted), the key file decrypts them, and the queue and the logs say
which routers exist and what they hold: none of it is for other local users.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# SQLite's companions of a database file; it creates them with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 folders; an existing folder is left as it is."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path) -> bool:
    """Create `path` empty and 0600 unless it exists; True when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return True


def open_private(path: Path, flags: int) -> int:
    """os.open that creates the file 0600: for files written in place (logs)."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def make_private(paths: Iterable[Path]) -> list[Path]:
    """Take group and other access away from those of `paths` that exist and are this account's; returns
    the ones changed. Others' files are theirs to keep (a shared database another account created)."""
    changed = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_uid != os.getuid() or not stat.S_IMODE(info.st_mode) & 0o077:
            continue
        try:
            os.chmod(path, PRIVATE_DIR if stat.S_ISDIR(info.st_mode) else PRIVATE_FILE)
        except OSError:
            continue
        changed.append(path)
    return changed


def sqlite_files(database: Path) -> list[Path]:
    """A SQLite database file and its companions."""
    return [database, *(database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS)]
