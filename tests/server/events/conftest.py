"""Fixtures of the token-event feed tests: the app served by uvicorn in the test's event loop.

``httpx.ASGITransport`` answers only once the app has finished, so it cannot follow a stream;
here the app runs in a real uvicorn server on a free port, in the test's loop (the fake clock
and the database stay at hand), and followers read it with httpx-sse.

- ``serve(**settings)`` starts a server on the test's database (``database_url``, both
  SQLite and PostgreSQL) and returns a :class:`Served`; keywords override settings.
- ``served``: one server with a 0.2 s heartbeat.
- ``Served.follow(**options)`` opens a :class:`Follower`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_sse import ServerSentEvent, aconnect_sse

from paycheck_server import Settings, create_app
from paycheck_server.migrate import upgrade
from paycheck_server.testing import FakeClock

from ..conftest import Api

WAIT_SECONDS = 10.0
HEARTBEAT_SECONDS = 0.2


async def eventually(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    """Return once ``condition()`` holds; fail when it does not within ``WAIT_SECONDS``.

    For states that no event announces: a row the app's purge deletes, the hub's internals.
    """
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            result = condition()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.01)


class _Server(uvicorn.Server):
    # Signals stay with pytest: an in-process server must not take SIGINT, nor leave its
    # handler behind for sse-starlette's shutdown watcher to find in a later test.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Follower:
    """One ``GET /token/events`` stream, read in the background into a queue.

    Attributes:
        response: the stream's HTTP response (status, headers).
        messages: every message read so far, in order.
    """

    def __init__(self, response: httpx.Response, source: Any) -> None:
        self.response = response
        self.messages: list[ServerSentEvent] = []
        self._queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._read(source))

    async def _read(self, source: Any) -> None:
        try:
            async for message in source.aiter_sse():
                self._queue.put_nowait(message)
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self._queue.put_nowait(None)

    async def next(self, within: float = WAIT_SECONDS) -> ServerSentEvent:
        """The next message; fails when the stream ends or none comes ``within`` seconds."""
        async with asyncio.timeout(within):
            message = await self._queue.get()
        assert message is not None, "the stream ended"
        self.messages.append(message)
        return message

    async def next_of(self, kind: str, within: float = WAIT_SECONDS) -> ServerSentEvent:
        """The next message of ``kind`` (``deactivated``, ``heartbeat``, ``reset``)."""
        async with asyncio.timeout(within):
            while True:
                message = await self.next()
                if message.event == kind:
                    return message

    async def ended(self, within: float = WAIT_SECONDS) -> list[ServerSentEvent]:
        """The messages until the stream ends (fails when it does not ``within`` seconds)."""
        rest = []
        async with asyncio.timeout(within):
            while (message := await self._queue.get()) is not None:
                self.messages.append(message)
                rest.append(message)
        return rest

    async def deactivations_until_heartbeat(self) -> list[dict[str, Any]]:
        """The ``deactivated`` data until the next heartbeat (what was pending is then sent)."""
        found = []
        while (message := await self.next()).event != "heartbeat":
            assert message.event == "deactivated", message
            found.append({"id": int(message.id), **message.json()})
        return found

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@dataclass
class Served:
    """An app served by uvicorn in the test's loop."""

    app: Any
    url: str
    clock: FakeClock
    http: httpx.AsyncClient
    api: Api
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def runtime(self) -> Any:
        return self.app.state.paycheck

    @contextlib.asynccontextmanager
    async def follow(
        self,
        service: str = "Online marketplace",
        *,
        last_event_id: str | None = None,
        params: dict[str, str] | None = None,
    ) -> AsyncIterator[Follower]:
        """Follow ``service``'s events; the first message (a heartbeat) is already read."""
        headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        client = httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(WAIT_SECONDS))
        async with (
            client,
            aconnect_sse(
                client,
                "GET",
                "/token/events",
                params={"service": service, **(params or {})},
                headers=headers,
            ) as source,
        ):
            follower = Follower(source.response, source)
            try:
                yield follower
            finally:
                await follower.aclose()


@pytest.fixture
async def serve(
    database_url: str, clock: FakeClock
) -> AsyncIterator[Callable[..., Awaitable[Served]]]:
    """Start apps on the test's database: ``await serve(feed_heartbeat_seconds=1)``."""
    started: list[tuple[_Server, asyncio.Task[None], Served]] = []
    migrated = False

    async def start(**overrides: Any) -> Served:
        nonlocal migrated
        settings = Settings(
            **{"database_url": database_url, "feed_heartbeat_seconds": HEARTBEAT_SECONDS}
            | overrides
        )
        app = create_app(settings, clock=clock)
        if not migrated:
            await upgrade(app.state.paycheck.store.engine)
            migrated = True
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[listener]))
        async with asyncio.timeout(WAIT_SECONDS):
            while not server.started:
                assert not task.done(), "uvicorn did not start"
                await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        http = httpx.AsyncClient(base_url=url, timeout=WAIT_SECONDS)
        served = Served(app, url, clock, http, Api(http, app, clock))
        started.append((server, task, served))
        return served

    yield start
    for server, task, served in reversed(started):
        await served.http.aclose()
        # Streams end when the feed closes; then uvicorn has no connection to wait for.
        await served.runtime.feed.aclose()
        server.should_exit = True
        await task


@pytest.fixture
async def served(serve: Callable[..., Awaitable[Served]]) -> Served:
    """The app with a 0.2 s feed heartbeat, served on the test's database."""
    return await serve()
