"""The read of ``POST /token/check``, by the shortest path each database offers.

A check needs one indexed read, :func:`token_state_query`. Through the server's engine it
costs about a millisecond on either database, nearly all of it outside the query:

- **SQLite** (aiosqlite): every DB-API call is a hand-off to the driver's thread and back,
  about ten per read (``BEGIN``, execute, fetch, ``ROLLBACK``, ...). The same query through
  :mod:`sqlite3` on the calling thread takes a few microseconds, so :class:`SQLiteTokenReader`
  runs it there, on the event loop. It opens the database read-only, only when it is a file
  in WAL mode (where a reader never waits for a writer), with a busy timeout of a few
  milliseconds; an autocommit read in WAL sees every write committed before it, by any
  connection or process. When it cannot answer (the database is locked, not in WAL mode, not
  migrated) the read goes through the engine instead, which waits in its own thread.
- **PostgreSQL**: the round trips of ``pool_pre_ping`` (itself ``BEGIN``, ``;``,
  ``ROLLBACK``) and of the transaction around the query. :class:`TokenStateReads` reads through
  a second, small engine in ``AUTOCOMMIT`` without pre-ping: one round trip. A connection that
  PostgreSQL dropped (a restart) fails the read once; SQLAlchemy then discards the whole pool
  and the read is retried once on a new connection.

Both paths run the same query and build the same :class:`~paycheck_server.access.TokenState`
with :func:`token_state_from`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Select, bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from . import db
from .access import TokenState
from .domain import Period

__all__ = [
    "SQLiteTokenReader",
    "TokenStateReads",
    "sqlite_file_path",
    "token_state_from",
    "token_state_query",
]

logger = logging.getLogger("paycheck_server.fastread")

READ_POOL_SIZE = 4
"""Connections of the PostgreSQL read engine kept open (more open under load, then close)."""


def token_state_query() -> Select[Any]:
    """The token's deadline, its bill's status, service and period, one row per method.

    The token is the bound parameter ``digest`` (its SHA-256 hex digest); no row means an
    unknown token.
    """
    return (
        select(
            db.tokens.c.expires_at,
            db.bills.c.status,
            db.bills.c.service_name,
            db.bills.c.date_from,
            db.bills.c.date_to,
            db.bill_lines.c.method_name,
        )
        .select_from(db.tokens.join(db.bills).join(db.bill_lines))
        .where(db.tokens.c.digest == bindparam("digest"))
    )


def token_state_from(rows: Sequence[Sequence[Any]]) -> TokenState | None:
    """The :class:`TokenState` in the rows of :func:`token_state_query`, ``None`` if none.

    Values are Python ones: the deadline a timezone-aware datetime or ``None``, the period's
    ends dates.
    """
    if not rows:
        return None
    deadline, status, service, date_from, date_to, _ = rows[0]
    return TokenState(
        deadline=deadline,
        paid=status == "paid",
        service=service,
        methods=frozenset(row[5] for row in rows),
        period=Period(date_from, date_to),
    )


def sqlite_file_path(url: URL) -> str | None:
    """The file of a SQLite URL, or ``None`` for another database, ``:memory:`` or a URI."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if "uri" in url.query or "mode" in url.query:
        return None
    return database


def _result_processor(column: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any]:
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    if process is None:
        raise TypeError(f"{column} needs no conversion from SQLite: the reader is out of date")
    return process


class SQLiteTokenReader:
    """Runs :func:`token_state_query` with :mod:`sqlite3` on the calling thread.

    The connection opens on the first read (read-only, ``PRAGMA query_only``, the busy
    timeout) and is kept. It is refused, and the read fails, unless the database is in WAL
    mode: in another mode a reader would wait for writers; the next read tries again.

    Args:
        path: the database file.
        busy_timeout_ms: how long a read may wait for a lock before it fails, blocking the
            calling thread meanwhile: keep it to a few milliseconds on an event loop.

    Raises:
        ValueError: ``busy_timeout_ms`` is not an int from 0 to 1000.

    Example::

        reader = SQLiteTokenReader("paycheck.db")
        try:
            state = reader.token_state(tokens.digest(token))
        except sqlite3.Error:
            ...  # locked, not WAL, not migrated: read another way
        finally:
            reader.close()
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5) -> None:
        if isinstance(busy_timeout_ms, bool) or not isinstance(busy_timeout_ms, int):
            raise ValueError(f"busy_timeout_ms must be an int from 0 to 1000: {busy_timeout_ms!r}")
        if not 0 <= busy_timeout_ms <= 1000:
            raise ValueError(f"busy_timeout_ms must be an int from 0 to 1000: {busy_timeout_ms!r}")
        # A URI, so that mode=ro applies; as_uri() percent-encodes what a path may contain.
        self.uri = Path(path).resolve().as_uri() + "?mode=ro"
        self.busy_timeout_ms = busy_timeout_ms
        self.answered = 0
        """Reads this reader answered."""
        self.failed = 0
        """Reads that raised (and were answered another way by :class:`TokenStateReads`)."""
        self._connection: sqlite3.Connection | None = None
        self._trace: Callable[[str], object] | None = None
        dialect = sqlite.dialect()
        self._sql = str(token_state_query().compile(dialect=dialect))
        # The engine's own conversions (naive text to aware UTC datetime, text to date), so
        # that both paths build equal states.
        self._expires_at = _result_processor(db.tokens.c.expires_at, dialect)
        self._date = _result_processor(db.bills.c.date_from, dialect)

    @property
    def trace(self) -> Callable[[str], object] | None:
        """Called with each statement the reader runs, its values written in (or ``None``).

        For tests and debugging, like SQLAlchemy's ``before_cursor_execute``: the values are
        digests, never tokens.
        """
        return self._trace

    @trace.setter
    def trace(self, callback: Callable[[str], object] | None) -> None:
        self._trace = callback
        if self._connection is not None:
            self._connection.set_trace_callback(callback)

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False: the reads happen on the event loop's thread, but an app
        # run by a test client may serve from more than one thread; each read is one call.
        connection = sqlite3.connect(
            self.uri, uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            connection.execute("PRAGMA query_only = 1")
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if mode != "wal":
                raise sqlite3.OperationalError(f"the database is in {mode} mode, not WAL")
            connection.set_trace_callback(self._trace)
        except BaseException:
            connection.close()
            raise
        return connection

    def token_state(self, token_digest: str) -> TokenState | None:
        """The state of the token with this digest, ``None`` when it is unknown.

        Raises:
            sqlite3.Error: the database cannot be read now (locked past the busy timeout, not
                in WAL mode, not migrated, gone).
        """
        try:
            if self._connection is None:
                self._connection = self._connect()
            rows = self._connection.execute(self._sql, (token_digest,)).fetchall()
        except sqlite3.Error:
            self.failed += 1
            raise
        self.answered += 1
        expires_at, to_date = self._expires_at, self._date
        return token_state_from(
            [
                (expires_at(deadline), status, service, to_date(start), to_date(end), method)
                for deadline, status, service, start, end, method in rows
            ]
        )

    def close(self) -> None:
        """Close the connection (a later read opens it again)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class TokenStateReads:
    """Reads token states for :class:`~paycheck_server.store.Store` by the fastest path.

    Args:
        engine: the server's engine, the path of last resort.
        fast: ``False`` reads through ``engine`` only, as every other operation does.

    Raises:
        ValueError: ``fast`` is not a bool.
    """

    def __init__(self, engine: AsyncEngine, *, fast: bool = True) -> None:
        if not isinstance(fast, bool):
            raise ValueError(f"fast must be True or False, not {fast!r}")
        self.engine = engine
        self.fast = fast
        path = sqlite_file_path(engine.url) if fast else None
        self.sqlite_reader = None if path is None else SQLiteTokenReader(path)
        """The SQLite file's reader, or ``None`` (another database, or not ``fast``)."""
        self.read_engine: AsyncEngine | None = None
        """PostgreSQL's read engine (no connection until the first read), or ``None``."""
        if fast and engine.url.get_backend_name() == "postgresql":
            self.read_engine = db.create_engine(
                engine.url.render_as_string(hide_password=False),
                isolation_level="AUTOCOMMIT",
                pool_pre_ping=False,
                pool_size=READ_POOL_SIZE,
            )
        self._query = token_state_query()

    async def token_state(self, token_digest: str) -> TokenState | None:
        """The state of the token with this digest, ``None`` when it is unknown.

        Raises:
            sqlalchemy.exc.DBAPIError: the database cannot be reached or read.
        """
        if self.sqlite_reader is not None:
            try:
                return self.sqlite_reader.token_state(token_digest)
            except sqlite3.Error as exc:
                logger.debug("reading a token state through the engine: %s", exc)
        if self.read_engine is not None:
            return await self._read_autocommit(self.read_engine, token_digest)
        return await self._read(self.engine, token_digest)

    async def _read(self, engine: AsyncEngine, token_digest: str) -> TokenState | None:
        async with engine.connect() as connection:
            result = await connection.execute(self._query, {"digest": token_digest})
            return token_state_from(result.all())

    async def _read_autocommit(self, engine: AsyncEngine, token_digest: str) -> TokenState | None:
        try:
            return await self._read(engine, token_digest)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            # Without pre-ping, a connection PostgreSQL dropped is found by using it: the
            # pool is discarded with it, and a retry takes a new connection.
            logger.info("a pooled connection was lost (%s); reading again", type(exc.orig).__name__)
            return await self._read(engine, token_digest)

    async def aclose(self) -> None:
        """Close the SQLite reader and the read engine's connections."""
        if self.sqlite_reader is not None:
            self.sqlite_reader.close()
        if self.read_engine is not None:
            await self.read_engine.dispose()
