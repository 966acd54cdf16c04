"""A real payment server on a loopback port that misbehaves on demand.

:class:`FaultyPaymentServer` speaks just enough HTTP/1.1 to answer ``POST /token/check``: it
grants every check, unless :attr:`~FaultyPaymentServer.fault` names a way to fail. It runs its
own event loop in a thread, so that the sync adapters (WSGI, Flask) and the async ones reach
it the same way: through a TCP socket, as they would reach a real payment server.

Every answer closes its connection, so that a fault never leaks into the next request through
a pooled keep-alive connection.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Literal

__all__ = ["FAULTS", "Fault", "FaultyPaymentServer", "faulty_payment_server"]

Fault = Literal["down", "hang", "slow", "500", "html", "truncated", "close-mid-body"]

FAULTS: dict[Fault, str] = {
    "down": "nothing listens on the port (connection refused)",
    "hang": "accepts the request and never answers (the client times out)",
    "slow": "answers correctly, but only after 2 seconds",
    "500": "answers 500 with a JSON description",
    "html": "answers 200 with an HTML page",
    "truncated": "answers 200 with a JSON body cut in the middle (Content-Length matches)",
    "close-mid-body": "announces 200 bytes of JSON, sends 20 and closes the connection",
}
"""Every way the server can fail, and what it then does."""

SLOW_SECONDS = 2.0

_HTML = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"


def _response(status: str, body: bytes, content_type: str, *, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        f"content-type: {content_type}\r\n"
        f"content-length: {len(body) if length is None else length}\r\n"
        "cache-control: max-age=300\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _grant(request_body: bytes) -> bytes:
    asked = json.loads(request_body)
    body = {
        "allowed": True,
        "serviceName": asked["serviceName"],
        "methodName": asked["methodName"],
        "paidUntil": "2099-12-31",
    }
    return _response("200 OK", json.dumps(body).encode(), "application/json")


class FaultyPaymentServer:
    """``POST /token/check`` on ``127.0.0.1:<port>``, granting everything or failing on demand.

    Attributes:
        url: ``http://127.0.0.1:PORT``; stays the same when the server goes down and comes back.
        fault: ``None`` to answer, or a key of :data:`FAULTS`. ``"down"`` closes the listening
            socket at once; setting anything else opens it again.
        requests: how many requests reached the server (whatever it then did with them).
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._fault: Fault | None = None
        self.requests = 0
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def fault(self) -> Fault | None:
        return self._fault

    @fault.setter
    def fault(self, fault: Fault | None) -> None:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault must be None or one of {sorted(FAULTS)}, not {fault!r}")
        self._fault = fault
        self._run(self._listen(fault != "down"))

    def _run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self, listening: bool) -> None:
        if listening and self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )
        elif not listening and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            self.requests += 1
            await self._answer(body, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client gave up first: that is what some faults are for
        finally:
            writer.close()

    async def _answer(
        self, body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        fault = self._fault
        if fault == "hang":
            await reader.read()  # until the client closes the connection
            return
        if fault == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        if fault == "500":
            answer = _response(
                "500 Internal Server Error",
                b'{"description": "Internal error"}',
                "application/json",
            )
        elif fault == "html":
            answer = _response("200 OK", _HTML, "text/html")
        elif fault == "truncated":
            answer = _response("200 OK", b'{"allowed": true, "serviceNa', "application/json")
        elif fault == "close-mid-body":
            answer = _response("200 OK", b'{"allowed": true, "s', "application/json", length=200)
        else:
            answer = _grant(body)
        writer.write(answer)
        await writer.drain()

    def start(self) -> None:
        """Start the loop's thread and listen."""
        self._thread.start()
        self._run(self._listen(True))

    def stop(self) -> None:
        """Stop listening, end every connection and the thread."""

        async def shutdown() -> None:
            await self._listen(False)
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._run(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def faulty_payment_server() -> Iterator[FaultyPaymentServer]:
    """A started :class:`FaultyPaymentServer`, stopped on exit."""
    server = FaultyPaymentServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
