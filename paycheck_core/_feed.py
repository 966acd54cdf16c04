"""The token-event feed's follower: how a validator hears of a deactivated token in seconds.

The payment server streams the deactivations of one service's tokens as Server-Sent Events
(``GET /token/events?service=NAME``); :mod:`paycheck_core._feed_core` says what each message
means. Here :class:`_FeedThread` (for :class:`~paycheck_core.TokenValidator`) and
:class:`_FeedTask` (for :class:`~paycheck_core.AsyncTokenValidator`) only connect, read and
reconnect: with ``Last-Event-ID``, after a jittered exponential backoff whose first step is
short, through an HTTP client of their own made like the validator's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

import httpx
import httpx_sse

from ._client import AsyncPaycheckClient, BaseClient, PaycheckClient
from ._feed_core import EVENTS_PATH, _FeedCore

__all__: list[str] = []


def _timeout(client: BaseClient, core: _FeedCore) -> httpx.Timeout:
    return httpx.Timeout(client.timeout, read=core.read_timeout())


class _FeedThread:
    """Follows the feed from one daemon thread, for :class:`~paycheck_core.TokenValidator`.

    The stream goes through an ``httpx.Client`` of its own, made from the validator's client's
    base URL, headers, timeout and transport (a transport that was given is shared, not
    closed). :meth:`stop` wakes a thread blocked on the socket by shutting the socket down.
    """

    def __init__(self, core: _FeedCore, client: PaycheckClient, lock: threading.Lock) -> None:
        self._core = core
        self._client = client
        self._lock = lock
        self._stopping = threading.Event()
        self._handoff = threading.Lock()  # orders stop() with the publication of _response
        self._response: httpx.Response | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless it runs or :meth:`stop` was called."""
        with self._handoff:
            if self._stopping.is_set() or (self.thread is not None and self.thread.is_alive()):
                return
            self.thread = threading.Thread(
                target=self._run, name=f"paycheck-feed {self._core.service}", daemon=True
            )
            self.thread.start()

    def stop(self, timeout: float) -> None:
        """Stop following and wait up to ``timeout`` seconds for the thread to end."""
        with self._handoff:
            self._stopping.set()
            response = self._response
            thread = self.thread
        if response is not None:
            _interrupt(response)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        shared = self._client._transport
        http = httpx.Client(transport=shared, **self._client._client_options())
        try:
            while not self._stopping.is_set():
                delay = self._follow(http)
                if self._stopping.wait(delay):
                    break
        finally:
            if shared is None:  # closing a client closes its transport, which is not ours
                http.close()

    def _follow(self, http: httpx.Client) -> float:
        core, lock = self._core, self._lock
        with lock:
            headers = core.connecting()
            params = {"service": core.service}
            timeout = _timeout(self._client, core)
        error: BaseException | None = None
        try:
            with httpx_sse.connect_sse(
                http, "GET", EVENTS_PATH, params=params, headers=headers, timeout=timeout
            ) as source:
                response = source.response
                with self._handoff:
                    if self._stopping.is_set():
                        return 0.0
                    self._response = response
                with lock:
                    core.opened(response.status_code, response.headers.get("content-type", ""))
                for sse in source.iter_sse():
                    with lock:
                        core.received(sse.event, sse.data, sse.id)
                    if self._stopping.is_set():
                        return 0.0
        except Exception as exc:  # any failure means reconnecting, never a dead follower
            error = exc
        finally:
            with self._handoff:
                self._response = None
            with lock:
                core.closed()
        if self._stopping.is_set():
            return 0.0
        with lock:
            return core.failed(error)


def _interrupt(response: httpx.Response) -> None:
    """Wake the thread blocked reading ``response``."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        # close() from another thread does not wake a blocked recv(); shutdown() does.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return
    with contextlib.suppress(Exception):  # a transport of another kind: closing is all we have
        response.close()


class _FeedTask:
    """Follows the feed from an asyncio task, for :class:`~paycheck_core.AsyncTokenValidator`.

    The task belongs to the event loop that started it; :meth:`start` starts a new one when it
    is done (for example when the loop that ran it has ended), resuming with ``Last-Event-ID``.
    """

    def __init__(self, core: _FeedCore, client: AsyncPaycheckClient) -> None:
        self._core = core
        self._client = client
        self._closed = False
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task on the running loop unless it runs or :meth:`stop` was called."""
        task = self.task
        if self._closed or (task is not None and not task.done()):
            return
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"paycheck-feed {self._core.service}"
        )

    async def stop(self) -> None:
        """Stop following: cancel the task and wait for it to end."""
        self._closed = True
        task = self.task
        if task is None or task.done():
            return
        task.cancel()
        if task.get_loop() is asyncio.get_running_loop():
            # wait() rather than `await task`: a cancellation of the caller still propagates.
            await asyncio.wait([task])

    async def _run(self) -> None:
        shared = self._client._transport
        http = httpx.AsyncClient(transport=shared, **self._client._client_options())
        try:
            while True:  # noqa: ASYNC110 - the wait is a backoff; aclose() cancels the task
                await asyncio.sleep(await self._follow(http))
        finally:
            if shared is None:  # closing a client closes its transport, which is not ours
                await http.aclose()

    async def _follow(self, http: httpx.AsyncClient) -> float:
        core = self._core
        headers = core.connecting()
        error: BaseException | None = None
        try:
            async with httpx_sse.aconnect_sse(
                http,
                "GET",
                EVENTS_PATH,
                params={"service": core.service},
                headers=headers,
                timeout=_timeout(self._client, core),
            ) as source:
                response = source.response
                core.opened(response.status_code, response.headers.get("content-type", ""))
                async for sse in source.aiter_sse():
                    core.received(sse.event, sse.data, sse.id)
        except Exception as exc:  # any failure means reconnecting, never a dead follower
            error = exc
        finally:
            core.closed()
        return core.failed(error)
