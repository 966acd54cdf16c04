"""The real ``paycheck-server`` refuses oversized request heads (issue 11).

Raw sockets send what no HTTP client would: a 20 MB header value, 2,000 header fields, a
1 MB URL. The server answers 431 or 414 with a ``{"description"}`` body as soon as the head
passes the limit (``PAYCHECK_MAX_HEADER_BYTES``, 16 KiB; ``PAYCHECK_MAX_HEADERS``, 100), and
keeps serving. With two workers every request is sent several times over new connections,
so that each worker process gets its share.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ._raw_http import exchange
from ._raw_http import request as raw_request
from .conftest import LiveServer

pytestmark = pytest.mark.e2e

KIB = 1024
MIB = 1024 * KIB
TRIES = 6


def numbered(count: int, value: bytes = b"v") -> list[bytes]:
    return [b"X-Field-%d: %s" % (index, value) for index in range(count)]


@pytest.fixture(scope="module", params=[1, 2], ids=["1 worker", "2 workers"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per worker count for the whole module: the cases below change nothing."""
    directory: Path = tmp_path_factory.mktemp("limits")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PAYCHECK_")}
    env["PAYCHECK_WORKERS"] = str(request.param)
    live = LiveServer(
        database_url=f"sqlite+aiosqlite:///{directory / 'paycheck.db'}",
        env=env,
        log_path=directory / "paycheck-server.log",
    )
    live.start()
    yield live
    live.stop()


FIELDS_TOO_LARGE = "The request URL and header fields are larger than 16384 bytes"
TOO_MANY_FIELDS = "The request has more than 100 header fields"
URL_TOO_LONG = "The request URL is longer than 16384 bytes"


@pytest.mark.parametrize(
    ("data", "status", "description"),
    [
        pytest.param(
            raw_request(fields=[b"X-Big: " + b"a" * (20 * MIB)]),
            431,
            FIELDS_TOO_LARGE,
            id="a 20 MB header value",
        ),
        pytest.param(
            raw_request(fields=[b"X-Big: " + b"a" * (17 * KIB)]),
            431,
            FIELDS_TOO_LARGE,
            id="a 17 KiB header value",
        ),
        pytest.param(
            raw_request(fields=numbered(90, b"v" * 200)),
            431,
            FIELDS_TOO_LARGE,
            id="90 header fields of 200 bytes",
        ),
        pytest.param(
            raw_request(fields=numbered(2000)), 431, TOO_MANY_FIELDS, id="2000 header fields"
        ),
        pytest.param(
            raw_request(fields=numbered(99)), 431, TOO_MANY_FIELDS, id="101 header fields"
        ),
        pytest.param(
            raw_request(target=b"/healthz?q=" + b"a" * MIB), 414, URL_TOO_LONG, id="a 1 MB query"
        ),
        pytest.param(raw_request(target=b"/" + b"a" * MIB), 414, URL_TOO_LONG, id="a 1 MB path"),
        pytest.param(
            raw_request(target=b"/" + b"a" * (17 * KIB)), 414, URL_TOO_LONG, id="a 17 KiB path"
        ),
    ],
)
def test_an_oversized_head_is_refused_with_a_description(
    server: LiveServer, data: bytes, status: int, description: str
) -> None:
    for _ in range(TRIES):
        answer = exchange(server.port, data)

        assert (answer.status, answer.description()) == (status, description)


def test_a_20_mb_header_is_answered_before_it_is_all_sent(server: LiveServer) -> None:
    data = raw_request(fields=[b"X-Big: " + b"a" * (20 * MIB)])

    answer = exchange(server.port, data)

    # What was sent sits partly in the sockets' buffers (a few MB on loopback), unread.
    assert answer.status == 431
    assert answer.sent < 12 * MIB


def test_a_head_within_the_limits_is_served(server: LiveServer) -> None:
    # Host and Connection are two of the 100 fields.
    data = raw_request(target=b"/healthz?q=" + b"a" * 4000, fields=numbered(98, b"v" * 100))

    for _ in range(TRIES):
        answer = exchange(server.port, data)

        assert (answer.status, json.loads(answer.body)) == (200, {"status": "ok"})


def test_the_limits_come_from_the_settings(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(max_headers=20, max_header_bytes=4096, workers=2)

    assert exchange(server.port, raw_request(fields=numbered(18))).status == 200
    for _ in range(TRIES):
        assert exchange(server.port, raw_request(fields=numbered(19))).description() == (
            "The request has more than 20 header fields"
        )
        assert exchange(server.port, raw_request(fields=[b"X-Big: " + b"a" * 4200])).status == 431
        assert exchange(server.port, raw_request(target=b"/" + b"a" * 4200)).status == 414
