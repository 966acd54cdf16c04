"""The feed over real sockets: a tiny SSE server on 127.0.0.1 and validators made from its URL.

What a mock transport cannot show: a thread blocked on a socket is woken by ``close()``, a
stream that the server closes is reopened with ``Last-Event-ID``, and a validator made from
a URL follows with no extra argument.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from paycheck_core import AsyncTokenValidator, TokenValidator, tokens

from .feeds import SERVICE, TIMEOUT, Followed, deactivated, heartbeat, until


class LiveConnection:
    """One stream the server holds open; the test writes its messages."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.outbox: queue.Queue[str | None] = queue.Queue()

    def send(self, *messages: str) -> None:
        for message in messages:
            self.outbox.put(message)

    def end(self) -> None:
        self.outbox.put(None)


class FeedServer:
    """A payment server that grants every check and streams what the test sends."""

    def __init__(self) -> None:
        self.connections: queue.Queue[LiveConnection] = queue.Queue()
        self.checks = 0
        self._all: list[LiveConnection] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.startswith("/token/events?service="):
                    self.send_error(404)
                    return
                connection = LiveConnection({k.lower(): v for k, v in self.headers.items()})
                server._all.append(connection)
                server.connections.put(connection)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(b"retry: 1000\n\n")
                self.wfile.flush()
                while (message := connection.outbox.get()) is not None:
                    try:
                        self.wfile.write(message.encode())
                        self.wfile.flush()
                    except OSError:  # the validator went away
                        return

            def do_POST(self) -> None:
                asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.checks += 1
                body = json.dumps(
                    {
                        "allowed": True,
                        "serviceName": asked["serviceName"],
                        "methodName": asked["methodName"],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=300")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    async def connection(self) -> LiveConnection:
        return await asyncio.to_thread(self.connections.get, timeout=TIMEOUT)

    def stop(self) -> None:
        for connection in self._all:
            connection.end()
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()


@pytest.fixture(params=["thread", "task"])
async def live(request: pytest.FixtureRequest, feed_server: FeedServer) -> AsyncIterator[Followed]:
    """A validator made from the server's URL, driven the same way for both kinds."""
    url = feed_server.url
    made = Followed(
        TokenValidator(url, SERVICE)
        if request.param == "thread"
        else AsyncTokenValidator(url, SERVICE)
    )
    yield made
    await made.close()


async def test_a_validator_made_from_a_url_follows_its_feed(
    live: Followed, feed_server: FeedServer
) -> None:
    token = tokens.generate_token()
    assert (await live.validate(token)).allowed
    connection = await feed_server.connection()

    connection.send(heartbeat(), deactivated(1, token))
    await until(lambda: live.validator.stats.feed.events_received == 1)  # type: ignore[union-attr]
    decision = await live.validate(token)

    assert (decision.allowed, decision.status) == (False, 401)
    assert feed_server.checks == 1


async def test_a_stream_the_server_closes_is_reopened_after_the_last_event(
    live: Followed, feed_server: FeedServer
) -> None:
    await live.validate(tokens.generate_token())
    first = await feed_server.connection()

    first.send(heartbeat(40), deactivated(41, tokens.generate_token()))
    first.end()
    second = await feed_server.connection()

    assert "last-event-id" not in first.headers
    assert second.headers["last-event-id"] == "41"


async def test_close_wakes_a_follower_blocked_on_a_silent_socket(
    live: Followed, feed_server: FeedServer
) -> None:
    await live.validate(tokens.generate_token())
    connection = await feed_server.connection()
    connection.send(heartbeat())
    await until(lambda: live.validator.stats.feed.healthy)  # type: ignore[union-attr]

    started = time.monotonic()
    await live.close()

    assert not live.following()
    # Not the 6 s read timeout nor the next heartbeat: the socket itself was shut.
    assert time.monotonic() - started < 1.0
