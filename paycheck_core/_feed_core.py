"""The token-event feed's messages and what they mean to a validator's cache, with no I/O.

The payment server streams the deactivations of one service's tokens as Server-Sent Events
(``GET /token/events?service=NAME``; the contract is in ``docs/contracts/caching.md``)::

    retry: 1000

    event: heartbeat
    data: {"lastEventId": 41, "serverTime": "2026-11-30T13:00:00Z", "heartbeatSeconds": 2}

    event: deactivated
    id: 42
    data: {"service": "Weather", "tokenDigest": "<64 hex>", "stopsAt": "...", "reason": "revoked"}

    event: reset
    id: 97
    data: {"description": "events after 12 are no longer kept", "lastEventId": 97}

:class:`_FeedCore` reads those messages and tells the validator's cache (a :class:`_FeedSink`)
what they mean, with no I/O and no clock of its own; :mod:`paycheck_core._feed` connects, reads
and reconnects.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
import httpx_sse

__all__ = ["FeedStats"]

logger = logging.getLogger("paycheck_core.feed")

EVENTS_PATH = "/token/events"
DEFAULT_HEARTBEAT = 2.0
"""Seconds between heartbeats until the server's first heartbeat says otherwise."""
HEALTHY_HEARTBEATS = 3
"""The feed is healthy while a message arrived within this many heartbeat intervals."""
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0
ABSENT_RETRY = 60.0
"""Seconds between attempts while the server answers that it has no feed (404, ...)."""

_DIGEST = re.compile(r"[0-9a-f]{64}")
_REASONS = {
    "revoked": "The token was revoked.",
    "reset": "The token was reset: a newer token replaced it and its grace period is over.",
    "replaced": "The token was replaced by a newer token for the same payment.",
}
_DEACTIVATED = "The token was deactivated."


@dataclass(frozen=True, slots=True)
class FeedStats:
    """The state of a validator's token-event feed (``validator.stats.feed``).

    Attributes:
        available: the payment server has a feed. ``False`` after it answered the stream's
            request with 404 (or another refusal): the validator then keeps answers as if
            made with ``follow=False``, and asks again every minute.
        connected: a stream is open now.
        healthy: a message (an event or a heartbeat) arrived within 3 heartbeat intervals,
            so cached answers older than ``max_staleness`` are still trusted.
        last_event_id: the event id a new connection resumes after (``Last-Event-ID``);
            ``None`` until the first heartbeat.
        lag_seconds: seconds since the last message; ``None`` before the first one.
        events_received: ``deactivated`` and ``reset`` events applied to the cache.
        reconnects: connections attempted after the first one.
        heartbeat_seconds: the server's heartbeat interval (2 until the server says).
    """

    available: bool
    connected: bool
    healthy: bool
    last_event_id: int | None
    lag_seconds: float | None
    events_received: int
    reconnects: int
    heartbeat_seconds: float


class _FeedSink(Protocol):
    """What the feed changes in a validator's cache; the caller holds the cache's lock."""

    def _feed_alive(self, until: float) -> None:
        """The feed is healthy until ``until`` (the validator's clock)."""

    def _feed_covers(self) -> None:
        """Every deactivation from now on will be delivered (until the next such call)."""

    def _feed_deactivated(self, digest: bytes, refuse_at: float, reason: str) -> None:
        """Refuse the token whose SHA-256 is ``digest`` from ``refuse_at`` on."""

    def _feed_reset(self) -> None:
        """Events may have been lost: forget every cached answer."""

    def _feed_available(self, available: bool) -> None:
        """The server has (``True``) or has not (``False``) a feed."""


class _FeedProtocolError(ValueError):
    """A feed message that does not follow the contract."""


class _FeedAbsent(Exception):  # noqa: N818 - a state of the server, not a failure of ours
    """The server answered the stream's request with a refusal: it has no feed."""


class _FeedUnavailable(Exception):  # noqa: N818 - a state of the server, not a failure of ours
    """The server could not serve the stream now (5xx, 408, 429): try again after a backoff."""


# What the network and the server cause; anything else is logged with its traceback.
_EXPECTED = (httpx.HTTPError, httpx_sse.SSEError, OSError, _FeedUnavailable)


@dataclass(frozen=True, slots=True)
class _Deactivation:
    """``event: deactivated``: refuse the token from ``stops_at`` (POSIX seconds) on."""

    service: str
    digest: bytes
    stops_at: float
    reason: str


@dataclass(frozen=True, slots=True)
class _Heartbeat:
    """``event: heartbeat``; fields the server did not send (or garbled) are ``None``."""

    last_event_id: int | None
    server_time: float | None
    interval: float | None


@dataclass(frozen=True, slots=True)
class _Reset:
    """``event: reset``: events were lost; the stream goes on from ``last_event_id``."""

    last_event_id: int | None


def _parse_message(event: str, data: str) -> _Deactivation | _Heartbeat | _Reset | None:
    """The meaning of one message; ``None`` for a kind this SDK does not know (skipped).

    A heartbeat or a reset is read leniently (an unreadable field is ``None``); a deactivation
    must be exact, since a guess could refuse the wrong token or keep the right one.

    Raises:
        _FeedProtocolError: a ``deactivated`` event that does not follow the contract.
    """
    if event == "heartbeat":
        body = _lenient_object(data)
        return _Heartbeat(
            _event_id(body.get("lastEventId")),
            _instant(body.get("serverTime")),
            _interval(body.get("heartbeatSeconds")),
        )
    if event == "reset":
        return _Reset(_event_id(_lenient_object(data).get("lastEventId")))
    if event != "deactivated":
        return None
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise _FeedProtocolError("a deactivated event whose data is not JSON") from exc
    if not isinstance(body, dict):
        raise _FeedProtocolError("a deactivated event whose data is not a JSON object")
    service, digest, reason = body.get("service"), body.get("tokenDigest"), body.get("reason")
    if not isinstance(service, str):
        raise _FeedProtocolError("a deactivated event without its service")
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise _FeedProtocolError("a deactivated event whose tokenDigest is not 64 lowercase hex")
    stops_at = _instant(body.get("stopsAt"))
    if stops_at is None:
        raise _FeedProtocolError("a deactivated event whose stopsAt is not an RFC 3339 instant")
    return _Deactivation(
        service, bytes.fromhex(digest), stops_at, reason if isinstance(reason, str) else ""
    )


def _lenient_object(data: str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _event_id(value: object) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _instant(value: object) -> float | None:
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant.timestamp() if instant.tzinfo is not None else None


def _interval(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


# A generator of the feed's own: the follower's thread never draws from (or moves) the global
# one, which the application (or Hypothesis, in tests) may rely on.
_JITTER = random.Random()


def _backoff(failures: int, rand: Callable[[], float] = _JITTER.random) -> float:
    """Seconds to wait before reconnecting after ``failures`` failed attempts in a row.

    Exponential from 0.1 s, capped at 5 s, with "equal jitter" (between half the step and
    the whole of it) so that services cut off together do not all come back together.
    """
    step = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** max(0, failures - 1))
    return step * (0.5 + 0.5 * rand())


class _FeedCore:
    """The feed's state and the meaning of its messages, with no I/O.

    Every method runs with the cache's lock held (the thread driver takes it; the asyncio one
    runs on the event loop), so that a message and a cache lookup never interleave.

    Args:
        service: the service whose events are followed.
        sink: the validator's cache.
        clock: the validator's monotonic clock.
        wall: the POSIX clock, used only to place ``stopsAt`` before the first heartbeat
            tells the server's time.
        rand: a uniform random number in [0, 1), for the backoff's jitter.
    """

    def __init__(
        self,
        service: str,
        sink: _FeedSink,
        clock: Callable[[], float],
        *,
        wall: Callable[[], float] = time.time,
        rand: Callable[[], float] = _JITTER.random,
    ) -> None:
        self.service = service
        self.last_event_id: int | None = None
        self.available = True
        self.connected = False
        self.heartbeat_seconds = DEFAULT_HEARTBEAT
        self.events_received = 0
        self.reconnects = 0
        self._sink = sink
        self._clock = clock
        self._wall = wall
        self._rand = rand
        self._attempts = 0
        self._failures = 0  # in a row, for the backoff
        self._last_message: float | None = None
        self._fresh = False  # the open stream started at the head, and no message came yet
        # The server's POSIX time at the last heartbeat and our clock then: stopsAt is an
        # instant of the server's clock, so a service whose clock is wrong still refuses on time.
        self._server_clock: tuple[float, float] | None = None

    def connecting(self) -> dict[str, str]:
        """Count a connection attempt; the headers to send with it."""
        if self._attempts:
            self.reconnects += 1
        self._attempts += 1
        if self.last_event_id is None:
            return {}
        return {"Last-Event-ID": str(self.last_event_id)}

    def read_timeout(self) -> float:
        """Seconds of silence after which the stream is taken for dead and reopened."""
        return HEALTHY_HEARTBEATS * self.heartbeat_seconds

    def opened(self, status: int, content_type: str) -> None:
        """The server answered the stream's request with ``status``.

        Raises:
            _FeedAbsent: the server refused the stream for good (404, another 4xx, a redirect,
                or a 200 that is not an event stream): it has no feed.
            _FeedUnavailable: the server could not serve it now (5xx, 408, 429).
        """
        if status == 200 and content_type.partition(";")[0].strip().lower() == "text/event-stream":
            self.connected = True
            # A stream from the head, or the first after the feed was missing, covers only
            # what comes after its first message.
            self._fresh = self.last_event_id is None or not self.available
            if not self.available:
                logger.warning("the token-event feed of %r is back", self.service)
                self.available = True
                self._sink._feed_available(True)
            return
        if status >= 500 or status in (408, 429):
            raise _FeedUnavailable(f"{EVENTS_PATH} answered {status}")
        kind = content_type or "no content type"
        raise _FeedAbsent(f"{EVENTS_PATH} answered {status} ({kind})")

    def received(self, event: str, data: str, event_id: str) -> None:
        """Apply one message: ``event`` and ``data`` as sent, ``event_id`` the stream's last id."""
        now = self._clock()
        self._last_message = now
        self._failures = 0
        try:
            message = _parse_message(event, data)
        except _FeedProtocolError as exc:
            # It may have been a deactivation of a token we hold: forget everything.
            logger.warning("the token-event feed of %r sent %s: cache dropped", self.service, exc)
            self._sink._feed_reset()
            self._sink._feed_covers()
            self._advance(event_id)
            message = None
        if self._fresh:
            self._fresh = False
            if isinstance(message, _Heartbeat) and self.last_event_id is None:
                self.last_event_id = message.last_event_id  # the head the stream starts after
            self._sink._feed_covers()
        if isinstance(message, _Heartbeat):
            if message.interval is not None:
                self.heartbeat_seconds = message.interval
            if message.server_time is not None:
                self._server_clock = (message.server_time, now)
        elif isinstance(message, _Deactivation):
            if message.service == self.service:
                self.events_received += 1
                reason = _REASONS.get(message.reason, _DEACTIVATED)
                refuse_at = now + message.stops_at - self._server_now(now)
                self._sink._feed_deactivated(message.digest, refuse_at, reason)
            self._advance(event_id)
        elif isinstance(message, _Reset):
            self.events_received += 1
            logger.warning(
                "the token-event feed of %r lost events after %s: cache dropped",
                self.service,
                self.last_event_id,
            )
            self._sink._feed_reset()
            self._sink._feed_covers()
            if message.last_event_id is not None:
                self.last_event_id = message.last_event_id
            else:
                self._advance(event_id)
        self._sink._feed_alive(now + HEALTHY_HEARTBEATS * self.heartbeat_seconds)

    def _advance(self, event_id: str) -> None:
        parsed = _event_id(event_id)
        if parsed is not None:
            self.last_event_id = parsed

    def _server_now(self, now: float) -> float:
        if self._server_clock is None:
            return self._wall()
        server_time, at = self._server_clock
        return server_time + (now - at)

    def closed(self) -> None:
        """The stream ended (or never opened)."""
        self.connected = False

    def failed(self, error: BaseException | None) -> float:
        """Seconds to wait before the next attempt, after the stream ended with ``error``.

        ``None`` means the server closed the stream; a refusal (:class:`_FeedAbsent`) makes the
        validator keep answers as without a feed until a later attempt finds one.
        """
        if isinstance(error, _FeedAbsent):
            if self.available:
                logger.warning(
                    "the payment server has no token-event feed for %r (%s): answers are "
                    "kept without it; asking again every %g s",
                    self.service,
                    error,
                    ABSENT_RETRY,
                )
                self.available = False
                self._sink._feed_available(False)
            return ABSENT_RETRY
        self._failures += 1
        if self._failures == 1:
            if error is None or isinstance(error, _EXPECTED):
                why = f"{type(error).__name__}: {error}" if error else "the stream ended"
                logger.info(
                    "the token-event feed of %r stopped (%s); reconnecting", self.service, why
                )
            else:  # not the network's doing: worth a traceback
                logger.warning(
                    "the token-event feed of %r failed; reconnecting", self.service, exc_info=error
                )
        return _backoff(self._failures, self._rand)

    def healthy(self, now: float) -> bool:
        """Whether a message arrived within the last 3 heartbeat intervals."""
        last = self._last_message
        return last is not None and now < last + HEALTHY_HEARTBEATS * self.heartbeat_seconds

    def stats(self) -> FeedStats:
        """A snapshot of the feed's state."""
        now = self._clock()
        last = self._last_message
        return FeedStats(
            available=self.available,
            connected=self.connected,
            healthy=self.available and self.healthy(now),
            last_event_id=self.last_event_id,
            lag_seconds=None if last is None else max(0.0, now - last),
            events_received=self.events_received,
            reconnects=self.reconnects,
            heartbeat_seconds=self.heartbeat_seconds,
        )
