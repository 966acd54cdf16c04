"""``paycheck-server``'s HTTP protocol refuses a request head while it reads it (issue 11).

The protocol is driven here byte by byte through a transport that records what it is given,
so that the tests see when the answer comes: after at most one read past the limit, never
after the whole of a 20 MB header. The real process is tested in
``tests/e2e/test_server_limits.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from paycheck_server import http_protocol
from paycheck_server.api.header_limit import HeadLimits
from paycheck_server.http_protocol import HeadLimitedHttpToolsProtocol, limits_from_environment

LIMITS = HeadLimits(max_header_bytes=1024, max_headers=10)
CHUNK = 4096


class RecordingTransport:
    """An :class:`asyncio.Transport` stand-in that keeps what is written to it."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = asyncio.Event()
        self.eof_written = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}
        return extra.get(name, default)

    def write(self, data: bytes) -> None:
        assert not self.closed.is_set(), "written after close"
        self.written += data

    def write_eof(self) -> None:
        self.eof_written = True

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.closed.set()

    def is_closing(self) -> bool:
        return self.closed.is_set() or self.eof_written

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


class Connection:
    """One connection to a fresh protocol."""

    def __init__(self, limits: HeadLimits | None = LIMITS) -> None:
        config = Config(app=ok_app, log_level="warning", access_log=False)
        config.load()
        self.state = ServerState()
        self.transport = RecordingTransport()
        self.protocol = HeadLimitedHttpToolsProtocol(
            config=config, server_state=self.state, app_state={}, limits=limits
        )
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]
        self.fed = 0

    def feed(self, chunks: Iterable[bytes]) -> None:
        """Send ``chunks`` until the protocol answers."""
        for chunk in chunks:
            if self.transport.written:
                return
            self.protocol.data_received(chunk)
            self.fed += len(chunk)

    async def answers(self) -> list[tuple[int, bytes]]:
        """The status and body of every answer, once the running requests are done."""
        while self.state.tasks:  # a pipelined request starts when the one before it ends
            await asyncio.gather(*self.state.tasks)
        answers = []
        rest = self.transport.written
        while rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            answers.append((status, rest[:length]))
            rest = rest[length:]
        return answers


def pieces(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def request(target: bytes = b"/", headers: Iterable[tuple[bytes, bytes]] = ()) -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"host: x"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def description(body: bytes) -> str:
    text: str = json.loads(body)["description"]
    return text


async def test_a_20_mb_header_is_refused_after_one_read_past_the_limit() -> None:
    connection = Connection()
    huge = request(headers=[(b"x-big", b"a" * 20_000_000)])

    connection.feed(pieces(huge))

    assert connection.fed <= LIMITS.max_raw_head_bytes + 2 * CHUNK
    [(status, body)] = await connection.answers()
    assert status == 431
    assert description(body) == "The request URL and header fields are larger than 1024 bytes"


async def test_a_header_sent_a_byte_at_a_time_is_refused_as_soon_as_it_passes() -> None:
    connection = Connection()

    connection.feed(pieces(request(headers=[(b"x-big", b"a" * 5000)]), size=1))

    # The read that began the head is not counted: one byte, here.
    assert connection.fed <= LIMITS.max_raw_head_bytes + 2
    assert [status for status, _ in await connection.answers()] == [431]


async def test_too_many_header_fields_in_one_read_are_refused() -> None:
    connection = Connection()

    connection.feed([request(headers=[(b"x-%d" % index, b"v") for index in range(2000)])])

    [(status, body)] = await connection.answers()
    assert status == 431
    assert description(body) == "The request has more than 10 header fields"


@pytest.mark.parametrize("size", [1, 100, CHUNK])
async def test_a_long_url_is_refused_with_414(size: int) -> None:
    connection = Connection()

    connection.feed(pieces(request(target=b"/?q=" + b"a" * 1_000_000), size=size))

    # The request line's "GET " is not part of the URL.
    assert connection.fed <= len(b"GET ") + LIMITS.max_header_bytes + size
    [(status, body)] = await connection.answers()
    assert status == 414
    assert description(body) == "The request URL is longer than 1024 bytes"


@pytest.mark.parametrize("size", [1, 7, CHUNK])
async def test_a_head_at_the_limit_is_served(size: int) -> None:
    # "/" and host: x count 1 + 5 bytes; nine more fields fill the rest to exactly 1024.
    fields = [(b"x-%d" % index, b"v" * 110) for index in range(8)]
    used = 1 + 5 + sum(len(name) + len(value) for name, value in fields)
    fields.append((b"x-last", b"v" * (LIMITS.max_header_bytes - used - len(b"x-last"))))
    connection = Connection()

    connection.feed(pieces(request(headers=fields), size=size))

    assert [status for status, _ in await connection.answers()] == [200]


async def test_pipelined_requests_and_bodies_do_not_count_as_head() -> None:
    body = b"b" * 3000
    first = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    second = request(headers=[(b"x-fill", b"v" * 900)])
    connection = Connection()

    connection.feed(pieces(first + second + first + second, size=1000))

    assert [status for status, _ in await connection.answers()] == [200, 200, 200, 200]


async def test_a_refused_connection_drops_what_follows_then_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_protocol, "LINGER_SECONDS", 0)
    connection = Connection()
    connection.feed([request(headers=[(b"x-big", b"a" * 5000)])])
    answered = connection.transport.written

    connection.protocol.data_received(b"a" * 100_000)
    await connection.transport.closed.wait()

    assert connection.transport.eof_written
    assert connection.transport.written == answered


async def test_other_bad_requests_still_get_uvicorns_400() -> None:
    connection = Connection()

    connection.feed([b"GET / HTTP/1.1\r\nbad header\r\n\r\n"])

    assert [status for status, _ in await connection.answers()] == [400]


async def test_without_limits_the_protocol_reads_the_paycheck_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYCHECK_MAX_HEADERS", "3")
    limits_from_environment.cache_clear()
    try:
        connection = Connection(limits=None)
        connection.feed([request(headers=[(b"x-%d" % index, b"v") for index in range(3)])])
    finally:
        limits_from_environment.cache_clear()

    [(status, body)] = await connection.answers()
    assert status == 431
    assert description(body) == "The request has more than 3 header fields"
