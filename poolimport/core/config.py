"""Settings from environment variables and an optional `$POOLIMPORT_HOME/config.toml`.

Environment wins over the file so that one shared config file can be overridden per process
(a consumer on another host, a test).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from poolimport.core.access.identity import Identity, os_account
from poolimport.core.errors import PoolimportError

ENV_PREFIX = "POOLIMPORT_"


class ConfigError(PoolimportError):
    """A setting has a value that cannot be used."""


def default_home(env: dict[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "poolimport"


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    queue_url: str
    key_file: Path
    log_dir: Path
    max_addresses_per_pool: int = 1_048_576
    batch_size: int = 20_000
    job_time_limit: float = 600.0
    heartbeat_interval: float = 10.0
    # Automatic retries of a job whose consumer died (0: none; the stalled job is marked failed).
    stalled_retries: int = 1
    # Who is asking: not a setting (neither config.toml nor a variable may name it), but what every
    # command, the TUI and an SSH session carry along with the settings.
    identity: Identity = Identity(asker="")
    # The TUI's keys, (binding id, keys) pairs from config.toml's [keymap] table; no variable sets them.
    keymap: tuple[tuple[str, str], ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def operator(self) -> str:
        return self.identity.operator


def sqlite_queue_file(queue_url: str) -> Path | None:
    """The file of a SQLite queue (sqlite:///PATH); None for Redis. A relative path or `:memory:` is
    refused: the queue is shared by the processes that send and the consumers, wherever they start."""
    if not queue_url.startswith("sqlite:///"):
        return None
    path = Path(queue_url.removeprefix("sqlite:///"))
    if not path.is_absolute():
        raise ConfigError(f"the SQLite queue needs an absolute path (sqlite:////var/lib/...), got {path}")
    return path


_TYPED_KEYS: dict[str, type] = {
    "max_addresses_per_pool": int,
    "batch_size": int,
    "job_time_limit": float,
    "heartbeat_interval": float,
    "stalled_retries": int,
}
# Settings for which 0 means "off" rather than an unusable value.
_ZERO_ALLOWED = {"stalled_retries"}


def _coerce(key: str, raw: Any) -> Any:
    wanted = _TYPED_KEYS.get(key)
    if wanted is None:
        return str(raw)
    try:
        value = wanted(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {raw!r}") from None
    if key in _ZERO_ALLOWED and value < 0:
        raise ConfigError(f"{key} must be 0 or more, got {raw!r}")
    if key not in _ZERO_ALLOWED and value <= 0:
        raise ConfigError(f"{key} must be greater than 0, got {raw!r}")
    return value


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def _keymap(raw: Any, path: Path, prefix: str = "") -> tuple[tuple[str, str], ...]:
    """`[keymap]`: binding id = "keys" (comma-separated). A dotted id is a table in TOML (`pools.back = "b"`),
    read back as its dotted name. Whether each id exists is the TUI's to say."""
    if not isinstance(raw, dict):
        raise ConfigError(f'keymap in {path} must be a table: [keymap] and lines like import = "j"')
    entries: list[tuple[str, str]] = []
    for name, keys in raw.items():
        binding_id = f"{prefix}{name}"
        if isinstance(keys, dict):
            entries += _keymap(keys, path, f"{binding_id}.")
        elif not isinstance(keys, str) or not all(key.strip() for key in keys.split(",")):
            raise ConfigError(f'[keymap] in {path}: {binding_id} takes keys such as "j" or "j,ctrl+i"')
        else:
            entries.append((binding_id, keys))
    return tuple(entries)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get(ENV_PREFIX + "HOME") or default_home(env)).expanduser()
    file_values = _read_file(home / "config.toml")
    keymap = _keymap(file_values.pop("keymap", {}), home / "config.toml")
    names = {f.name for f in fields(Settings)} - {"home", "identity", "keymap"}
    unknown = set(file_values) - names
    if unknown:
        raise ConfigError(f"unknown setting(s) in {home / 'config.toml'}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in names:
        raw = env.get(ENV_PREFIX + name.upper(), file_values.get(name))
        if raw not in (None, ""):
            values[name] = _coerce(name, raw)
    values.setdefault("database_url", f"sqlite:///{home / 'poolimport.db'}")
    values.setdefault("queue_url", f"sqlite:///{home / 'queue.db'}")
    values["key_file"] = Path(values.get("key_file") or home / "secret.key")
    values["log_dir"] = Path(values.get("log_dir") or home / "logs")
    return Settings(home=home, identity=local_identity(env), keymap=keymap, **values)


def local_identity(env: dict[str, str]) -> Identity:
    """The account of the process, acting as POOLIMPORT_OPERATOR if set (the scope checks it may)."""
    acting_as = env.get(ENV_PREFIX + "OPERATOR")
    if acting_as is not None and not acting_as.strip():
        raise ConfigError("POOLIMPORT_OPERATOR is set but empty: name the operator to act as, or unset it")
    return Identity(asker=os_account(), acting_as=acting_as)


# scheme://user:PASSWORD@host: the password runs to the last "@" of the URL (an unescaped "@" in a password
# is common); masking too much hides a little of the host, masking too little shows the secret.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#]*:)[^\s]*@")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd|pass)=)[^&#\s]*", re.IGNORECASE)
MASK = "***"


def masked_url(text: str) -> str:
    """A database or queue URL (SQLAlchemy, redis, rediss, unix), or a message holding one, with its
    password shown as ***: in the user part and in a `password=` query parameter."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
