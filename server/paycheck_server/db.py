"""The database: tables, the engine and its per-dialect setup.

Secrets are stored only as SHA-256 hex digests (``artifact_digest``, ``tokens.digest``,
``idempotency_keys.key_digest``), unique and indexed: rows are found by digest, never by a
prefix of a secret. Two constraints carry the concurrency rules, whatever the code does:

- ``charges.bill_id`` is UNIQUE: a bill is charged at most once;
- ``uq_tokens_current``: at most one token per bill has no deadline (is *current*).

``token_events`` is the outbox of the token-event feed (:mod:`paycheck_server.events`): one
row per token deactivation, written in the transaction that deactivates the token.

A charge is written down before the provider is called: ``charge_attempts`` holds, per unpaid
bill, the attempt under way (``pending``: the provider may have charged it) or the last one
declined; an ``idempotency_keys`` row with no ``response`` yet is a ``/pay`` still in progress.

SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN
IMMEDIATE`` so that two writers queue instead of failing halfway (the ``sqlite_begin``
execution option picks the kind of ``BEGIN``). Datetimes are stored as naive UTC and read back
timezone-aware.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from datetime import UTC, datetime
from threading import Thread
from typing import Any

import aiosqlite
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator

__all__ = [
    "TOKEN_EVENT_REASONS",
    "bill_lines",
    "bills",
    "charge_attempts",
    "charges",
    "create_engine",
    "idempotency_keys",
    "metadata",
    "token_events",
    "tokens",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, stored naive so both databases compare it the same way."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

bills = Table(
    "bills",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("artifact_digest", String(64), nullable=False, unique=True),
    Column("service_name", String(200), nullable=False),
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    # Bumped by every reset: the UPDATE that bumps it is the per-bill lock (a payment takes
    # the same lock with SELECT ... FOR UPDATE).
    Column("token_generation", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime, nullable=True),
    CheckConstraint("status IN ('unpaid', 'paid')", name="status"),
)

bill_lines = Table(
    "bill_lines",
    metadata,
    Column("bill_id", String(40), ForeignKey("bills.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("method_name", String(200), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
)

charges = Table(
    "charges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bill_id", String(40), ForeignKey("bills.id"), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("provider", String(40), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

charge_attempts = Table(
    "charge_attempts",
    metadata,
    Column("bill_id", String(40), ForeignKey("bills.id"), primary_key=True),
    # Numbered from 1; a new number after a decline, so that the provider's idempotency key
    # (bill id and number) of a declined attempt is never used again.
    Column("attempt", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'declined')", name="status"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bill_id", String(40), ForeignKey("bills.id"), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    # NULL while the token is current; the instant it stops working once replaced or revoked.
    Column("expires_at", UTCDateTime, nullable=True),
)
Index(
    "uq_tokens_current",
    tokens.c.bill_id,
    unique=True,
    sqlite_where=tokens.c.expires_at.is_(None),
    postgresql_where=tokens.c.expires_at.is_(None),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("endpoint", String(40), primary_key=True),
    Column("key_digest", String(64), primary_key=True),
    Column("request_digest", String(64), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("secret_digest", String(64), nullable=False),
    # NULL while the request is in progress (a /pay claims its key before calling the provider).
    Column("response", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)


TOKEN_EVENT_REASONS = ("revoked", "reset", "replaced")
"""Why a token stopped: ``paycheck-server revoke``, a ``/token/reset``, a second ``/pay``."""

token_events = Table(
    "token_events",
    metadata,
    # AUTOINCREMENT on SQLite: an id is never handed out twice, even after a purge emptied
    # the table's end (a plain rowid would reuse it, and a follower would miss the event).
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("service_name", String(200), nullable=False),
    # SHA-256 of the token: the event never carries a secret.
    Column("token_digest", String(64), nullable=False, index=True),
    Column("stops_at", UTCDateTime, nullable=False),
    Column("reason", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    CheckConstraint(
        f"reason IN ({', '.join(repr(reason) for reason in TOKEN_EVENT_REASONS)})", name="reason"
    ),
    sqlite_autoincrement=True,
)
Index("ix_token_events_service_name_id", token_events.c.service_name, token_events.c.id)


def _is_file_sqlite(url: str) -> bool:
    return url.startswith("sqlite") and ":memory:" not in url and url.rstrip("/") != "sqlite"


# How long a SQLite connection waits for another one's lock before "database is locked".
_BUSY_TIMEOUT_SECONDS = 30

_WAL_RETRY_SECONDS = 0.01


async def _open_aiosqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """``aiosqlite.connect``, whose worker thread has ended when the connect fails.

    aiosqlite raises a failed connect before its worker thread has stopped, and the thread
    then calls back into the event loop. When that loop has just closed (``asyncio.run``
    returned, as after ``paycheck-server migrate`` or a test), the thread dies with "Event
    loop is closed": a stray traceback after the CLI's one-line error, a random test error.
    """
    connection = aiosqlite.connect(*args, **kwargs)
    # Before 0.22 the connection was itself the thread; since 0.22 it holds it in `_thread`.
    thread = connection if isinstance(connection, Thread) else connection._thread
    # Like SQLAlchemy's own aiosqlite connect: a connection never closed must not keep the
    # process alive at exit.
    thread.daemon = True
    try:
        return await connection
    except BaseException:
        # The worker has its stop request queued already: it ends at once.
        await asyncio.to_thread(thread.join)
        raise


async def _pragma(connection: aiosqlite.Connection, sql: str) -> None:
    # Closed at once: a PRAGMA answers a row, and a statement left unfinished keeps its lock.
    async with connection.execute(sql):
        pass


async def _switch_to_wal(connection: aiosqlite.Connection) -> None:
    # While another connection writes to a file not yet in WAL mode, SQLite refuses the switch
    # at once with "database is locked", without calling the busy handler (the switch is a
    # write that starts inside its own read, which SQLite will not let wait, to avoid a
    # deadlock). Replicas migrating a new file together hit it, so wait here as busy_timeout
    # would. Once the file is in WAL mode the switch is a no-op.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _BUSY_TIMEOUT_SECONDS
    while True:
        try:
            await _pragma(connection, "PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or loop.time() >= deadline:
                raise
        await asyncio.sleep(_WAL_RETRY_SECONDS)


async def _connect_sqlite(*args: Any, wal: bool, **kwargs: Any) -> aiosqlite.Connection:
    """An aiosqlite connection set up for Paycheck: busy timeout, foreign keys, WAL.

    Args:
        args, kwargs: what SQLAlchemy passes to ``aiosqlite.connect`` for the URL.
        wal: switch the file to WAL mode (not for ``:memory:``).
    """
    # No isolation level: the driver's own transaction handling would BEGIN lazily and
    # DEFERRED; the engine's "begin" hook emits BEGIN so that writers lock before they read.
    connection = await _open_aiosqlite(*args, isolation_level=None, **kwargs)
    try:
        await _pragma(connection, f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_SECONDS * 1000}")
        await _pragma(connection, "PRAGMA foreign_keys = ON")
        if wal:
            await _switch_to_wal(connection)
            await _pragma(connection, "PRAGMA synchronous = NORMAL")
    except BaseException:
        await connection.close()
        raise
    return connection


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for ``url`` set up for Paycheck (SQLite: WAL, busy timeout, BEGIN kinds).

    Args:
        url: a ``sqlite+aiosqlite`` or ``postgresql+asyncpg`` URL.
        options: passed to :func:`sqlalchemy.ext.asyncio.create_async_engine`.
    """
    if url.startswith("postgresql"):
        # An unreachable host must fail in seconds, not after the OS's TCP timeout.
        options.setdefault("connect_args", {"timeout": 10})
        options.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **options)
    if url.startswith("sqlite"):
        connect = functools.partial(_connect_sqlite, wal=_is_file_sqlite(url))

        @event.listens_for(engine.sync_engine, "do_connect")
        def _do_connect(dialect: Dialect, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["async_creator_fn"] = connect

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(connection: Connection) -> None:
            kind = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
            if kind not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
                raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE: {kind}")
            connection.exec_driver_sql(f"BEGIN {kind}")

    return engine
