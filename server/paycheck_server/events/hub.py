"""One reader of the outbox per process, fanning events out to every subscriber.

:class:`FeedHub` reads ``token_events`` once for all the process's subscribers and keeps the
events it published in a ring that subscribers read at their own pace. It is woken:

- on PostgreSQL by ``LISTEN`` on one dedicated asyncpg connection (``NOTIFY`` is sent by the
  writing transaction and delivered on commit), with a read every second besides, in case a
  notification is lost with its connection; while that connection is down it polls;
- on SQLite by polling every ``poll_seconds`` (an indexed read of ``id > cursor``).

So an event committed by any replica, or by ``paycheck-server revoke`` with no server running,
reaches the subscribers of every replica.

**Ids that commit out of order.** PostgreSQL hands out sequence values when rows are inserted,
not when they commit: id 11 can be visible before id 10. The hub publishes in id order only: an
id read past a gap is held until the missing ids arrive, or until ``gap_seconds`` (2 s) have
passed since the gap was seen, when the missing ids are given up (a rolled-back transaction
leaves such a hole for good). A follower's ``Last-Event-ID`` therefore never jumps over an
event that is still to come. A given-up id is still looked for during a minute, and published
late (out of order) if it shows up. SQLite commits one writer at a time, in id order, and an
id is never reused (``AUTOINCREMENT``), so there the hub never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from itertools import islice
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from .outbox import NOTIFY_CHANNEL, TokenEvent, log_bounds, read_events

__all__ = ["FeedHub"]

logger = logging.getLogger("paycheck_server.events")

_READ_BATCH = 1000
# Ids below the head that are missing when the hub starts may belong to transactions still
# in flight: watch that many of the newest ids.
_START_WINDOW = 100
_LATE_WATCH_SECONDS = 60.0
_LISTEN_RETRY_SECONDS = (0.5, 10.0)
_CONNECT_TIMEOUT_SECONDS = 10.0


class FeedHub:
    """Reads new token events for the whole process and lets subscribers follow them.

    Args:
        engine: the server's engine.
        poll_seconds: how often to read when no notification can wake the hub (SQLite, or
            PostgreSQL while its listening connection is down).
        listen: use ``LISTEN``/``NOTIFY``; by default on PostgreSQL only.
        gap_seconds: how long an id past a gap is held for the missing ids.
        safety_seconds: on PostgreSQL while listening, read this often anyway.
        memory: how many published events subscribers can read from memory; one that falls
            further behind reads from the database.

    Raises:
        ValueError: a duration is not positive, or ``memory`` is below 1.

    Example::

        hub = FeedHub(engine, poll_seconds=0.1)
        await hub.start()
        seq, head = hub.position()
        ...
        await hub.aclose()
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        poll_seconds: float,
        listen: bool | None = None,
        gap_seconds: float = 2.0,
        safety_seconds: float = 1.0,
        memory: int = 4096,
    ) -> None:
        for name, value in (
            ("poll_seconds", poll_seconds),
            ("gap_seconds", gap_seconds),
            ("safety_seconds", safety_seconds),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
        if memory < 1:
            raise ValueError(f"memory must be at least 1, not {memory!r}")
        self.engine = engine
        """The engine the hub (and subscribers catching up) read through."""
        self._poll = poll_seconds
        self._listen = engine.dialect.name == "postgresql" if listen is None else listen
        self._gap = gap_seconds
        self._safety = safety_seconds
        self._ring: deque[tuple[int, TokenEvent]] = deque(maxlen=memory)
        self._seq = 0
        self._cursor = 0
        self._seen = 0
        self._held: dict[int, TokenEvent] = {}
        self._missing: dict[int, float] = {}
        self._late: dict[int, float] = {}
        self._subscribers: set[asyncio.Event] = set()
        self._wake = asyncio.Event()
        self._start_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = False
        self._read_ok = False
        self._closed = False

    # --- what subscribers see -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The hub was closed: subscribers end their streams."""
        return self._closed

    @property
    def live(self) -> bool:
        """The hub reads, and its last read succeeded (heartbeats are sent only while so)."""
        reading = bool(self._tasks) and not self._tasks[0].done()
        return reading and self._read_ok and not self._closed

    @property
    def listening(self) -> bool:
        """The hub is woken by ``NOTIFY`` now (PostgreSQL, its connection up)."""
        return self._listening

    @property
    def waiting_for(self) -> frozenset[int]:
        """The missing ids that hold back the events read after them (see the module's doc)."""
        return frozenset(self._missing)

    def position(self) -> tuple[int, int]:
        """``(seq, cursor)``: the count of events published and the id they reach.

        Every event with an id up to ``cursor`` has been published (or given up, see the
        module's docstring); a subscriber that read up to ``seq`` reads on with :meth:`since`.
        """
        return self._seq, self._cursor

    def subscribe(self, wakeup: asyncio.Event) -> None:
        """Set ``wakeup`` at every publication, and when the hub closes.

        A subscriber clears it, reads with :meth:`since`, then waits for it.
        """
        self._subscribers.add(wakeup)

    def unsubscribe(self, wakeup: asyncio.Event) -> None:
        """Stop setting ``wakeup`` (a no-op when it was not subscribed)."""
        self._subscribers.discard(wakeup)

    def since(self, seq: int, service: str) -> tuple[list[TokenEvent], int, int] | None:
        """The events of ``service`` published after ``seq``, the new ``seq`` and cursor.

        Returns ``None`` when the events after ``seq`` are no longer in memory: read them from
        the database (after the last id the subscriber had) up to :meth:`position`'s cursor.
        """
        if seq >= self._seq:
            return [], self._seq, self._cursor
        first = self._ring[0][0] if self._ring else self._seq + 1
        if seq < first - 1:
            return None
        events = [
            event
            for _, event in islice(self._ring, seq - first + 1, None)
            if event.service == service
        ]
        return events, self._seq, self._cursor

    async def bounds(self) -> tuple[int, int]:
        """``(oldest, newest)`` ids in the outbox, ``(0, 0)`` when empty."""
        async with self.engine.connect() as connection:
            return await log_bounds(connection)

    async def read(self, *, service: str, after: int, up_to: int) -> AsyncIterator[TokenEvent]:
        """The events of ``service`` with ``after < id <= up_to``, from the database.

        Read in batches, each on a connection of its own: a slow follower holds none.
        """
        while after < up_to:
            async with self.engine.connect() as connection:
                batch = await read_events(
                    connection, after=after, up_to=up_to, service=service, limit=_READ_BATCH
                )
            for event in batch:
                yield event
            if len(batch) < _READ_BATCH:
                return
            after = batch[-1].id

    # --- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Read the head of the outbox and start reading (once; later calls return at once).

        Raises:
            sqlalchemy.exc.SQLAlchemyError, OSError: the database cannot be read; the next
                call tries again.
        """
        async with self._start_lock:
            if self._tasks or self._closed:
                return
            async with self.engine.connect() as connection:
                _, newest = await log_bounds(connection)
                late: list[int] = []
                if self.engine.dialect.name == "postgresql":
                    # Ids missing just below the head may still commit (see _START_WINDOW).
                    recent = max(newest - _START_WINDOW, 0)
                    events = await read_events(connection, after=recent, up_to=newest)
                    present = {event.id for event in events}
                    late = [id_ for id_ in range(recent + 1, newest) if id_ not in present]
            self._late = dict.fromkeys(late, asyncio.get_running_loop().time())
            self._cursor = self._seen = newest
            self._read_ok = True
            self._tasks.append(asyncio.create_task(self._run(), name="paycheck-feed-reader"))
            if self._listen:
                self._tasks.append(
                    asyncio.create_task(self._listen_loop(), name="paycheck-feed-listener")
                )
            for task in self._tasks:
                task.add_done_callback(_log_crash)

    async def aclose(self) -> None:
        """Stop reading and listening; every subscriber's stream ends."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._signal()

    # --- reading --------------------------------------------------------------------------

    def _signal(self) -> None:
        for wakeup in self._subscribers:
            wakeup.set()

    def _publish(self, event: TokenEvent) -> None:
        self._seq += 1
        self._ring.append((self._seq, event))

    async def _read_once(self) -> bool:
        """Read what is new; returns whether a full batch came (there may be more)."""
        loop = asyncio.get_running_loop()
        wanted = sorted(self._missing)[:_READ_BATCH] + sorted(self._late)[:_READ_BATCH]
        async with self.engine.connect() as connection:
            rows = await read_events(connection, after=self._seen, also=wanted, limit=_READ_BATCH)
        now = loop.time()
        published = self._seq
        for event in rows:
            if event.id in self._late:
                del self._late[event.id]
                logger.warning("token event %d committed late; published out of order", event.id)
                self._publish(event)
            elif event.id > self._cursor:
                self._held[event.id] = event
                self._missing.pop(event.id, None)
        newest = max((event.id for event in rows), default=self._seen)
        for missing in range(self._seen + 1, newest):
            if missing not in self._held:
                self._missing[missing] = now
        self._seen = max(self._seen, newest)
        while self._cursor < self._seen:
            following = self._cursor + 1
            if following in self._held:
                self._publish(self._held.pop(following))
            elif now - self._missing[following] >= self._gap:
                del self._missing[following]
                self._late[following] = now
            else:
                break
            self._cursor = following
        for id_, given_up in list(self._late.items()):
            if now - given_up >= _LATE_WATCH_SECONDS:
                del self._late[id_]
        if self._seq != published:
            self._signal()
        return len(rows) == _READ_BATCH

    def _timeout(self) -> float:
        timeout = self._safety if self._listening else self._poll
        if self._missing:
            deadline = min(self._missing.values()) + self._gap
            timeout = min(timeout, max(deadline - asyncio.get_running_loop().time(), 0.0))
        return timeout

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                more = await self._read_once()
            except (SQLAlchemyError, OSError) as exc:
                if self._read_ok:
                    logger.warning("the token-event feed cannot read the database: %s", exc)
                self._read_ok = False
                failures = min(failures + 1, 16)
                await asyncio.sleep(min(self._poll * 2**failures, 5.0))
                continue
            if not self._read_ok:
                logger.warning("the token-event feed reads the database again")
            self._read_ok, failures = True, 0
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._timeout()):
                    await self._wake.wait()

    # --- listening (PostgreSQL) -----------------------------------------------------------

    def _on_notify(self, *args: Any) -> None:
        self._wake.set()

    async def _connect_listener(self) -> Any:
        import asyncpg

        _, options = self.engine.dialect.create_connect_args(self.engine.url)
        for name in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            options.pop(name, None)
        options.setdefault("timeout", _CONNECT_TIMEOUT_SECONDS)
        return await asyncpg.connect(**options)

    async def _listen_loop(self) -> None:
        import asyncpg

        retry, longest = _LISTEN_RETRY_SECONDS
        while True:
            try:
                connection = await self._connect_listener()
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                logger.warning("the token-event feed cannot LISTEN (polling meanwhile): %s", exc)
                await asyncio.sleep(retry)
                retry = min(retry * 2, longest)
                continue
            lost = asyncio.Event()

            def terminated(_connection: Any, lost: asyncio.Event = lost) -> None:
                lost.set()

            try:
                connection.add_termination_listener(terminated)
                await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
                self._listening = True
                retry = _LISTEN_RETRY_SECONDS[0]
                # What committed while nobody listened is read now.
                self._wake.set()
                await lost.wait()
                logger.warning("the token-event feed lost its LISTEN connection; reconnecting")
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("the token-event feed cannot LISTEN (polling meanwhile): %s", exc)
                await asyncio.sleep(retry)
            finally:
                self._listening = False
                connection.terminate()
            self._wake.set()


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # Followers stop getting heartbeats (FeedHub.live) and fall back to checking tokens.
        logger.error("the token-event feed stopped", exc_info=task.exception())
