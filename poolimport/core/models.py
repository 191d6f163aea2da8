"""ORM models. Alembic migrations (core/migrations) are the only way the schema changes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from poolimport.core.statuses import JobStatus, PoolStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The largest id a row can have: SQLite's integers are 64-bit signed, and binding a larger one overflows.
MAX_ID = 2**63 - 1


def parse_id(text: str) -> int | None:
    """An id as typed: ASCII digits, 1 to MAX_ID; None for anything else. str.isdecimal is also true of
    "３" and "٣", str.isdigit of "²", and int() refuses 4,300 digits or more."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


# The rows of ix_pool_addresses_used; a query must say it in these words for SQLite to use that index.
USED_ROWS = "status = 'used'"
# The widest count an IPv6 pool can have: ::/0 handed out as /128s is 2**128, 39 decimal digits.
COUNT_DIGITS = 39


class JobSource(StrEnum):
    """Where a job came from: the queue (TUI, `poolimport import`), a CLI process that ran it itself, or
    the router's schedule."""

    QUEUE = "queue"
    SYNC = "sync"
    SCHEDULE = "schedule"  # enqueued by the consumers for a router's schedule


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out on every backend (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class AddressCount(TypeDecorator[int]):
    """A pool's size, exact up to 2**128. NUMERIC(39) on PostgreSQL; elsewhere zero-padded decimal text, as
    SQLite's INTEGER stops at 2**63 and its REAL rounds: padded text still compares and sorts numerically."""

    impl = String(COUNT_DIGITS)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(COUNT_DIGITS, 0))
        return dialect.type_descriptor(String(COUNT_DIGITS))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> object:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(int(value))
        return f"{int(value):0{COUNT_DIGITS}d}"

    def process_result_value(self, value: object, dialect: Dialect) -> int | None:
        return None if value is None else int(value)  # type: ignore[call-overload]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Operator(Base):
    """Someone who uses the CLI or TUI. tenant_id NULL means every tenant (an administrator)."""

    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20), default="operator")  # admin | operator | viewer
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorKey(Base):
    """An SSH public key that names its operator when they come in through the shared service account."""

    __tablename__ = "operator_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    # SHA256:... as `ssh-keygen -l` prints it: what operators compare, and unique across operators.
    fingerprint: Mapped[str] = mapped_column(String(100), unique=True)
    public_key: Mapped[str] = mapped_column(Text)  # "<type> <base64>", the comment dropped
    comment: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Router(Base):
    __tablename__ = "routers"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_routers_tenant_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    tls: Mapped[bool] = mapped_column(Boolean, default=False)
    tls_verify: Mapped[bool] = mapped_column(Boolean, default=True)
    ca_file: Mapped[str | None] = mapped_column(String(1000))
    username: Mapped[str] = mapped_column(String(200))
    password_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # Set when the key file was replaced (`init --new-key`): the stored password can't be decrypted.
    password_needed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    encoding: Mapped[str] = mapped_column(String(40), default="utf-8")
    timeout: Mapped[float] = mapped_column(Float, default=10.0)
    last_status: Mapped[str | None] = mapped_column(String(20))  # a CheckStatus
    last_error: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None]
    identity: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tenant: Mapped[Tenant] = relationship(lazy="joined")


class IpPool(Base):
    __tablename__ = "ip_pools"
    # RouterOS keeps /ip/pool and /ipv6/pool apart: the same name in both is two pools.
    __table_args__ = (UniqueConstraint("router_id", "family", "name", name="uq_ip_pools_router_family_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    family: Mapped[int] = mapped_column(Integer)  # 4 | 6
    ranges: Mapped[str] = mapped_column(Text)  # IPv4: the router's ranges; IPv6: the prefix
    prefix_length: Mapped[int | None] = mapped_column(Integer)
    next_pool: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(AddressCount, default=0)
    expanded: Mapped[bool] = mapped_column(Boolean, default=True)
    # Hash of everything the router said about this pool; an unchanged pool is skipped on re-import.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default=PoolStatus.ACTIVE.value)
    # Kept by the importer in the pool's own transaction, so lists never count the address table.
    used_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    free_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stale_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class PoolAddress(Base):
    """One address (IPv4) or one delegable prefix (IPv6) of a pool."""

    __tablename__ = "pool_addresses"
    __table_args__ = (
        UniqueConstraint("pool_id", "sort_key", name="uq_pool_addresses_pool_key"),
        # On PostgreSQL, triggers (migration 0009) keep this key's rules: its own check runs a query per
        # inserted row, theirs one per statement.
        ForeignKeyConstraint(["pool_id"], ["ip_pools.id"], ondelete="CASCADE").ddl_if(dialect="sqlite"),
        # A pool's used rows, few among its free ones: what a re-import compares with the router's leases
        # when the pool's ranges are unchanged. Partial, so the free rows of a first import cost it nothing.
        Index(
            "ix_pool_addresses_used",
            "pool_id",
            sqlite_where=text(USED_ROWS),
            postgresql_where=text(USED_ROWS),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(Integer)
    # Zero-padded hex of the address number: sorts numerically as text, fits IPv6 (128 bits).
    sort_key: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))  # an AddressStatus
    owner: Mapped[str | None] = mapped_column(Text)
    info: Mapped[str | None] = mapped_column(Text)


class ImportJob(Base):
    __tablename__ = "import_jobs"
    __table_args__ = (
        # The database, not Huey, guarantees one live job per router and import kind (Huey has no lock
        # on SQLite).
        Index(
            "uq_import_jobs_live_router_kind",
            "router_id",
            "kind",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_import_jobs_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    # How: "CLI", "TUI", over SSH with which key, "schedule", an auto-retry (None: before migration 0011).
    asked_via: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), default=JobStatus.QUEUED.value)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("import_jobs.id", ondelete="SET NULL"))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(20), default="pools", server_default="pools")  # an import kind
    source: Mapped[str] = mapped_column(String(20), default=JobSource.QUEUE, server_default=JobSource.QUEUE)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(200))
    time_limit: Mapped[float] = mapped_column(Float, default=600.0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pools_done: Mapped[int] = mapped_column(Integer, default=0)
    pools_total: Mapped[int] = mapped_column(Integer, default=0)
    addresses_done: Mapped[int] = mapped_column(BigInteger, default=0)
    addresses_total: Mapped[int] = mapped_column(BigInteger, default=0)
    result_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(64))
    # A failed job an operator set aside: out of the failed views and retry-all, still in the history.
    dismissed_at: Mapped[datetime | None]

    router: Mapped[Router] = relationship(lazy="joined")


class JobEvent(Base):
    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_id_id", "job_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(10))  # debug | info | warning | error
    kind: Mapped[str | None] = mapped_column(String(40))  # an EventKind; none on events older than kinds
    message: Mapped[str] = mapped_column(Text)
    data_json: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """One change or refusal, append-only (triggers refuse UPDATE and DELETE). No foreign keys: the record
    outlives the router, job or tenant it names."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))  # who asked
    acting_as: Mapped[str | None] = mapped_column(String(100))  # an admin acting as this operator
    origin: Mapped[str] = mapped_column(String(200))  # "local", or the SSH client's address
    action: Mapped[str] = mapped_column(String(40))  # e.g. "import", "router.edit", "key.rotate"
    outcome: Mapped[str] = mapped_column(String(10))  # ok | refused | failed
    tenant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    router_id: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(Text)  # the name of what was acted on
    detail: Mapped[str | None] = mapped_column(Text)


class Schedule(Base):
    """A router re-synced every `interval` seconds. `failures` counts scheduled imports that failed in a
    row: each doubles the wait (up to a cap) until one succeeds."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_next_run_at", "next_run_at"),)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True)
    interval: Mapped[float] = mapped_column(Float)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    router: Mapped[Router] = relationship(lazy="joined")


class Lease(Base):
    """A job that one process at a time does (the schedule's enqueuer): held until `expires_at` unless
    its holder renews it."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Consumer(Base):
    """A consumer process, as it last checked in (every heartbeat interval while it runs)."""

    __tablename__ = "consumers"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid, as on the jobs it runs
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    threads: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
