"""One subscriber's stream: the messages of ``GET /token/events``.

Messages, in order:

1. ``heartbeat`` (with ``retry:``) at once: the head id, the server's time, the interval;
2. ``reset`` when ``Last-Event-ID`` cannot be resumed (not a non-negative integer, older than
   the events kept, or newer than the newest id), or else the retained ``deactivated`` events
   of the service after ``Last-Event-ID``, in id order;
3. then live ``deactivated`` events as they commit, and a ``heartbeat`` every
   ``heartbeat_seconds`` while the hub reads the database.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio
from sse_starlette import JSONServerSentEvent, ServerSentEvent

from ..clock import Clock
from .hub import FeedHub
from .outbox import TokenEvent

__all__ = [
    "RETRY_MILLISECONDS",
    "Subscription",
    "deactivated_message",
    "heartbeat_message",
    "reset_message",
    "rfc3339",
]

RETRY_MILLISECONDS = 1000
"""The ``retry:`` sent once: how long a browser's ``EventSource`` waits before reconnecting."""

_DIGITS = re.compile(r"[0-9]{1,19}")
_LARGEST_ID = 2**63 - 1


def rfc3339(moment: datetime) -> str:
    """``2026-11-30T13:00:05Z`` (with microseconds when there are any)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _message(data: dict[str, Any], *, event: str, id: int | None = None) -> ServerSentEvent:
    return JSONServerSentEvent(data, event=event, id=None if id is None else str(id))


def deactivated_message(event: TokenEvent) -> ServerSentEvent:
    """``event: deactivated`` with ``id: <event id>``: a token stops at ``stopsAt``."""
    return _message(
        {
            "service": event.service,
            "tokenDigest": event.token_digest,
            "stopsAt": rfc3339(event.stops_at),
            "reason": event.reason,
        },
        event="deactivated",
        id=event.id,
    )


def heartbeat_message(
    *, last_event_id: int, now: datetime, heartbeat_seconds: float, retry: int | None = None
) -> ServerSentEvent:
    """``event: heartbeat`` (no ``id:``, so that it leaves a follower's Last-Event-ID alone)."""
    message = _message(
        {
            "lastEventId": last_event_id,
            "serverTime": rfc3339(now),
            "heartbeatSeconds": heartbeat_seconds,
        },
        event="heartbeat",
    )
    message.retry = retry
    return message


def reset_message(*, requested: str, last_event_id: int) -> ServerSentEvent:
    """``event: reset``, ``id: <newest id>``: drop everything cached, go on from that id."""
    shown = requested if _DIGITS.fullmatch(requested) else "the requested id"
    return _message(
        {
            "description": f"events after {shown} are no longer kept",
            "lastEventId": last_event_id,
        },
        event="reset",
        id=last_event_id,
    )


def _resumable(requested: str, *, oldest: int, newest: int) -> int | None:
    """The id to resume after, or ``None`` when the follower must reset."""
    if not _DIGITS.fullmatch(requested):
        return None
    after = int(requested)
    if after > min(newest, _LARGEST_ID):
        return None  # a newer id than any: another database, or the log was recreated
    if oldest and after < oldest - 1:
        return None  # the events between were purged
    return after


class Subscription:
    """One ``GET /token/events`` stream of one service.

    :meth:`open` does what can fail (the database read) before the answer starts, so that a
    failure is still a plain 503; :meth:`messages` then streams.

    Args:
        hub: the process's hub.
        service: the service whose events are sent.
        heartbeat_seconds: the heartbeat interval.
        clock: the clock of ``serverTime``.
        shutdown: set when the server shuts down: the stream then ends at once, completing
            the response (rather than being cancelled halfway).
    """

    def __init__(
        self,
        hub: FeedHub,
        *,
        service: str,
        heartbeat_seconds: float,
        clock: Clock,
        shutdown: anyio.Event | None = None,
    ) -> None:
        self._hub = hub
        self._service = service
        self._heartbeat = heartbeat_seconds
        self._clock = clock
        self._shutdown = shutdown
        self._wakeup = asyncio.Event()
        self._seq = 0
        self._head = 0
        self._resume_after: int | None = None
        self._reset: str | None = None

    async def open(self, last_event_id: str | None) -> None:
        """Start the hub if needed and decide where the stream starts.

        Args:
            last_event_id: the follower's ``Last-Event-ID``, or ``None`` to start at the head.

        Raises:
            sqlalchemy.exc.SQLAlchemyError, OSError: the database cannot be read.
        """
        await self._hub.start()
        self._seq, self._head = self._hub.position()
        if last_event_id is None:
            return
        oldest, newest = await self._hub.bounds()
        after = _resumable(last_event_id, oldest=oldest, newest=max(newest, self._head))
        if after is None:
            self._reset = last_event_id
        else:
            self._resume_after = after

    def _beat(self, *, retry: int | None = None) -> ServerSentEvent:
        _, cursor = self._hub.position()
        return heartbeat_message(
            last_event_id=cursor,
            now=self._clock.now(),
            heartbeat_seconds=self._heartbeat,
            retry=retry,
        )

    async def messages(self) -> AsyncIterator[ServerSentEvent]:
        """The stream's messages, until the server shuts down (or the client goes away)."""
        self._hub.subscribe(self._wakeup)
        watcher = None if self._shutdown is None else asyncio.create_task(self._watch_shutdown())
        try:
            async for message in self._messages():
                yield message
        finally:
            self._hub.unsubscribe(self._wakeup)
            if watcher is not None:
                watcher.cancel()

    async def _watch_shutdown(self) -> None:
        assert self._shutdown is not None
        await self._shutdown.wait()
        self._wakeup.set()

    def _ending(self) -> bool:
        return self._hub.closed or (self._shutdown is not None and self._shutdown.is_set())

    async def _messages(self) -> AsyncIterator[ServerSentEvent]:
        hub, head = self._hub, self._head
        yield self._beat(retry=RETRY_MILLISECONDS)
        skip_up_to = 0
        if self._reset is not None:
            yield reset_message(requested=self._reset, last_event_id=head)
        elif self._resume_after is not None:
            async for event in hub.read(
                service=self._service, after=self._resume_after, up_to=head
            ):
                yield deactivated_message(event)
            if self._resume_after > head:
                # The follower read another replica, ahead of this one's hub: it has the
                # events up to its id already.
                skip_up_to = self._resume_after
        position = head
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self._heartbeat
        while not self._ending():
            self._wakeup.clear()
            found = hub.since(self._seq, self._service)
            if found is None:
                # Fell behind what the hub keeps in memory: catch up from the database.
                self._seq, cursor = hub.position()
                async for event in hub.read(service=self._service, after=position, up_to=cursor):
                    yield deactivated_message(event)
            else:
                events, self._seq, cursor = found
                for event in events:
                    if event.id > skip_up_to:
                        yield deactivated_message(event)
            position = max(position, cursor)
            if loop.time() >= next_beat:
                if hub.live:
                    yield self._beat()
                next_beat = loop.time() + self._heartbeat
                continue
            try:
                async with asyncio.timeout(next_beat - loop.time()):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
