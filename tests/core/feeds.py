"""A scripted payment server with a token-event feed, behind ``httpx.MockTransport``.

The test plays the server: it accepts or refuses each connection of the follower, sends it one
message at a time, and answers ``/token/check`` as told (or holds the answer back). Every step
waits, with a timeout, for the follower to have done its part: a message returns once the
follower has applied it (it asked for the next chunk of the stream), so no test sleeps.

Both validators are driven the same way through :class:`Payments` and :class:`Followed`:
:class:`SyncPayments` answers from the follower's thread, :class:`AsyncPayments` from the
event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from paycheck_core import (
    AccessDecision,
    AsyncPaycheckClient,
    AsyncTokenValidator,
    PaycheckClient,
    TokenValidator,
    ValidatorStats,
)

BASE_URL = "http://payments.test"
SERVICE = "Online marketplace"
TIMEOUT = 5.0  # the longest any step waits for the other side
SERVER_TIME = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
EVENT_STREAM = {"content-type": "text/event-stream", "cache-control": "no-cache"}


# --- messages, as the server writes them ----------------------------------------------------------


def digest(token: str) -> str:
    """The ``tokenDigest`` of ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def heartbeat(
    last_event_id: int = 0, *, at: datetime = SERVER_TIME, interval: float | None = 2
) -> str:
    data: dict[str, Any] = {"lastEventId": last_event_id, "serverTime": rfc3339(at)}
    if interval is not None:
        data["heartbeatSeconds"] = interval
    return f"event: heartbeat\ndata: {json.dumps(data)}\n\n"


def deactivated(
    event_id: int,
    token: str,
    *,
    stops_in: float = 0.0,
    now: datetime = SERVER_TIME,
    reason: str = "revoked",
    service: str = SERVICE,
) -> str:
    """A deactivation of ``token`` that stops ``stops_in`` seconds after ``now`` (server time)."""
    data = {
        "service": service,
        "tokenDigest": digest(token),
        "stopsAt": rfc3339(now + timedelta(seconds=stops_in)),
        "reason": reason,
    }
    return f"event: deactivated\nid: {event_id}\ndata: {json.dumps(data)}\n\n"


def reset(event_id: int) -> str:
    data = {"description": f"events after {event_id} are no longer kept", "lastEventId": event_id}
    return f"event: reset\nid: {event_id}\ndata: {json.dumps(data)}\n\n"


def allowed_body(request: httpx.Request) -> dict[str, Any]:
    asked = json.loads(request.content)
    return {
        "allowed": True,
        "serviceName": asked["serviceName"],
        "methodName": asked["methodName"],
        "paidUntil": "2026-12-31",
    }


# --- the server's side, shared by both flavours -------------------------------------------------


class Payments:
    """What both flavours share: how ``/token/check`` answers, and what was asked."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {"Cache-Control": "max-age=300"}
        self.down = False
        self.checks: list[httpx.Request] = []
        self.streams: list[httpx.Request] = []

    def allow(self, **headers: str) -> None:
        """Grant every check, with these response headers (a max-age of 300 s by default)."""
        self.status, self.down = 200, False
        self.headers = headers or {"Cache-Control": "max-age=300"}

    def deny(self, status: int = 401) -> None:
        self.status, self.down, self.headers = status, False, {}

    def go_down(self) -> None:
        """Refuse connections to /token/check from now on (the feed is scripted apart)."""
        self.down = True

    def _check(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status == 200:
            return httpx.Response(200, json=allowed_body(request), headers=self.headers)
        return httpx.Response(self.status, json={"description": "Invalid or expired token"})


# --- the thread flavour -------------------------------------------------------------------------


class _SyncStream(httpx.SyncByteStream):
    """An event stream the test writes to; it counts the follower's reads."""

    def __init__(self) -> None:
        self._chunks: queue.Queue[bytes | None] = queue.Queue()
        self._reads = 0
        self._sent = 0
        self._read = threading.Condition()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            with self._read:
                self._reads += 1
                self._read.notify_all()
            chunk = self._chunks.get()
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self._chunks.put(None)

    def send(self, text: str) -> None:
        self._sent += 1
        self._chunks.put(text.encode())
        target = self._sent + 1  # the follower asks for the next chunk once it applied this one
        with self._read:
            if not self._read.wait_for(lambda: self._reads >= target, TIMEOUT):
                raise AssertionError("the follower did not read the message")


class SyncConnection:
    """One request of the follower for the stream, which the test answers."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self._decision: queue.Queue[httpx.Response | Exception] = queue.Queue()
        self._stream = _SyncStream()

    def _wait(self) -> httpx.Response:
        decision = self._decision.get(timeout=TIMEOUT)
        if isinstance(decision, Exception):
            raise decision
        return decision

    async def accept(self) -> None:
        self._decision.put(httpx.Response(200, headers=EVENT_STREAM, stream=self._stream))

    async def refuse(self, status: int, content_type: str = "application/json") -> None:
        self._decision.put(httpx.Response(status, headers={"content-type": content_type}))

    async def fail(self) -> None:
        self._decision.put(httpx.ConnectError("connection refused", request=self.request))

    async def send(self, *messages: str) -> None:
        """Send each message and return once the follower has applied it."""
        for message in messages:
            await asyncio.to_thread(self._stream.send, message)

    async def end(self) -> None:
        """The server closes the stream."""
        self._stream.close()


class SyncPayments(Payments):
    """The payment server of a :class:`TokenValidator`, answering from its threads."""

    def __init__(self) -> None:
        super().__init__()
        self._connections: queue.Queue[SyncConnection] = queue.Queue()
        self._all: list[SyncConnection] = []
        self.held: threading.Event | None = None
        self.arrived = threading.Semaphore(0)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token/events":
            self.streams.append(request)
            connection = SyncConnection(request)
            self._all.append(connection)
            self._connections.put(connection)
            return connection._wait()
        self.checks.append(request)
        self.arrived.release()
        if self.held is not None:
            self.held.wait(TIMEOUT)
        return self._check(request)

    async def connection(self) -> SyncConnection:
        """The follower's next request for the stream."""
        return await asyncio.to_thread(self._connections.get, timeout=TIMEOUT)

    def hold(self) -> None:
        """Hold every check's answer back until :meth:`release`."""
        self.held = threading.Event()

    async def check_arrived(self) -> None:
        if not await asyncio.to_thread(self.arrived.acquire, timeout=TIMEOUT):
            raise AssertionError("no check reached the payment server")

    def release(self) -> None:
        assert self.held is not None
        self.held.set()

    def validator(self, **options: Any) -> TokenValidator:
        client = PaycheckClient(BASE_URL, transport=httpx.MockTransport(self.handle))
        return TokenValidator(client, SERVICE, **options)

    def shut(self) -> None:
        """Refuse the connections nobody answered, so that no thread waits for the test."""
        if self.held is not None:
            self.held.set()
        for connection in self._all:
            connection._decision.put(httpx.ConnectError("the test is over"))


# --- the asyncio flavour ------------------------------------------------------------------------


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self) -> None:
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._reads = 0
        self._sent = 0
        self._read = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self._reads += 1
            self._read.set()
            chunk = await self._chunks.get()
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        self._chunks.put_nowait(None)

    async def send(self, text: str) -> None:
        self._sent += 1
        self._chunks.put_nowait(text.encode())
        target = self._sent + 1
        async with asyncio.timeout(TIMEOUT):
            while self._reads < target:
                self._read.clear()
                await self._read.wait()


class AsyncConnection:
    """One request of the follower's task for the stream, which the test answers."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self._decision: asyncio.Future[httpx.Response | Exception] = (
            asyncio.get_running_loop().create_future()
        )
        self._stream = _AsyncStream()

    async def _wait(self) -> httpx.Response:
        async with asyncio.timeout(TIMEOUT):
            decision = await self._decision
        if isinstance(decision, Exception):
            raise decision
        return decision

    async def accept(self) -> None:
        self._decision.set_result(httpx.Response(200, headers=EVENT_STREAM, stream=self._stream))

    async def refuse(self, status: int, content_type: str = "application/json") -> None:
        self._decision.set_result(httpx.Response(status, headers={"content-type": content_type}))

    async def fail(self) -> None:
        self._decision.set_result(httpx.ConnectError("connection refused", request=self.request))

    async def send(self, *messages: str) -> None:
        for message in messages:
            await self._stream.send(message)

    async def end(self) -> None:
        await self._stream.aclose()


class AsyncPayments(Payments):
    """The payment server of an :class:`AsyncTokenValidator`, answering on the event loop."""

    def __init__(self) -> None:
        super().__init__()
        self._connections: asyncio.Queue[AsyncConnection] = asyncio.Queue()
        self._all: list[AsyncConnection] = []
        self.held: asyncio.Event | None = None
        self.arrived: asyncio.Queue[None] = asyncio.Queue()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token/events":
            self.streams.append(request)
            connection = AsyncConnection(request)
            self._all.append(connection)
            self._connections.put_nowait(connection)
            return await connection._wait()
        self.checks.append(request)
        self.arrived.put_nowait(None)
        if self.held is not None:
            await self.held.wait()
        return self._check(request)

    async def connection(self) -> AsyncConnection:
        async with asyncio.timeout(TIMEOUT):
            return await self._connections.get()

    def hold(self) -> None:
        self.held = asyncio.Event()

    async def check_arrived(self) -> None:
        async with asyncio.timeout(TIMEOUT):
            await self.arrived.get()

    def release(self) -> None:
        assert self.held is not None
        self.held.set()

    def validator(self, **options: Any) -> AsyncTokenValidator:
        client = AsyncPaycheckClient(BASE_URL, transport=httpx.MockTransport(self.handle))
        return AsyncTokenValidator(client, SERVICE, **options)

    def shut(self) -> None:
        """Refuse the connections nobody answered, so that no task waits for the test."""
        if self.held is not None:
            self.held.set()
        for connection in self._all:
            if not connection._decision.done():
                connection._decision.set_result(httpx.ConnectError("the test is over"))


# --- one validator, driven the same way for both flavours ---------------------------------------


class Followed:
    """A validator that follows a scripted feed; every call is awaited.

    A sync validator validates in a worker thread, so that a held check never blocks the
    event loop that scripts the server.
    """

    def __init__(self, validator: TokenValidator | AsyncTokenValidator) -> None:
        self.validator = validator

    async def validate(self, token: str, method: str = "getInfo") -> AccessDecision:
        validator = self.validator
        if isinstance(validator, AsyncTokenValidator):
            return await validator.validate(token, method)
        return await asyncio.to_thread(validator.validate, token, method)

    def cached(self, token: str, method: str = "getInfo") -> AccessDecision | None:
        return self.validator.cached(token, method)

    async def start_feed(self) -> None:
        validator = self.validator
        if isinstance(validator, AsyncTokenValidator):
            await validator.start_feed()
        else:
            validator.start_feed()

    async def close(self) -> None:
        validator = self.validator
        if isinstance(validator, AsyncTokenValidator):
            await validator.aclose()
        else:
            await asyncio.to_thread(validator.close)

    @property
    def stats(self) -> ValidatorStats:
        return self.validator.stats

    def following(self) -> bool:
        """Whether the feed's thread runs, or its task is not done."""
        feed: Any = self.validator._feed
        if isinstance(self.validator, AsyncTokenValidator):
            return feed.task is not None and not feed.task.done()
        return feed.thread is not None and feed.thread.is_alive()


# --- what the follower tests share (their fixtures are in conftest.py) ----------------------

AnyPayments = SyncPayments | AsyncPayments


async def connect(
    followed: Followed, payments: AnyPayments, *, head: int = 0, interval: float = 2
) -> Any:
    """Start the follower, accept its stream and send the first heartbeat."""
    await followed.start_feed()
    connection = await payments.connection()
    await connection.accept()
    await connection.send(heartbeat(head, interval=interval))
    return connection


async def until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds (the follower changes it from its thread or task)."""
    async with asyncio.timeout(TIMEOUT):
        # The follower's thread or task changes what the condition reads: nothing to await.
        while not condition():  # noqa: ASYNC110 - see above
            await asyncio.sleep(0.001)
