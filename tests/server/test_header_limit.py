"""The app refuses a request head past its limits, whatever ASGI server runs it (issue 11).

``paycheck-server`` refuses such heads while reading them (``tests/server/test_http_protocol.py``,
``tests/e2e/test_server_limits.py``); the app's :class:`HeaderLimitMiddleware` holds the same
limits under any other server: 414 for a long URL, 431 for large or many header fields, each
with a ``{"description"}`` body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from paycheck_server import Settings, create_app
from paycheck_server.api.header_limit import HeaderLimitMiddleware, HeadLimits

KIB = 1024


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The real app with the default limits (16 KiB, 100 fields); no request reaches the DB."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paycheck.test") as client:
        yield client
    await app.state.paycheck.aclose()


def many_headers(count: int, value: str = "v") -> dict[str, str]:
    return {f"x-header-{index}": value for index in range(count)}


@pytest.mark.parametrize(
    ("headers", "description"),
    [
        pytest.param(
            many_headers(2000),
            "The request has more than 100 header fields",
            id="2000 header fields",
        ),
        pytest.param(
            many_headers(101),
            "The request has more than 100 header fields",
            id="101 header fields",
        ),
        pytest.param(
            {"x-big": "a" * (20 * KIB * KIB)},
            "The request URL and header fields are larger than 16384 bytes",
            id="one 20 MB header",
        ),
        pytest.param(
            {"x-big": "a" * (16 * KIB)},
            "The request URL and header fields are larger than 16384 bytes",
            id="one header just past the limit",
        ),
        pytest.param(
            many_headers(40, "b" * 500),
            "The request URL and header fields are larger than 16384 bytes",
            id="40 header fields of 500 bytes",
        ),
    ],
)
async def test_header_fields_past_the_limits_get_431(
    http: httpx.AsyncClient, headers: dict[str, str], description: str
) -> None:
    response = await http.get("/healthz", headers=headers)

    assert response.status_code == 431
    assert response.json() == {"description": description}


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("/healthz?q=" + "a" * (17 * KIB), id="long query"),
        pytest.param("/" + "a" * (17 * KIB), id="long path"),
        pytest.param("/" + "%41" * (6 * KIB), id="long percent-encoded path"),
        pytest.param("/healthz?q=" + "a" * (60 * KIB), id="60 KiB query"),
    ],
)
async def test_a_url_past_the_limit_gets_414(http: httpx.AsyncClient, url: str) -> None:
    response = await http.get(url)

    assert response.status_code == 414
    assert response.json() == {"description": "The request URL is longer than 16384 bytes"}


async def test_a_url_and_header_fields_together_past_the_limit_get_431(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/healthz?q=" + "a" * (10 * KIB), headers={"x-big": "b" * 7 * KIB})

    assert response.status_code == 431


async def test_a_usual_request_passes(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz", headers=many_headers(90, "v" * 100))

    assert response.status_code == 200


async def test_the_limits_come_from_the_settings() -> None:
    app = create_app(
        Settings(database_url="sqlite+aiosqlite:///:memory:", max_headers=8, max_header_bytes=2048)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paycheck.test") as client:
        few = await client.get("/healthz", headers=many_headers(2))
        many = await client.get("/healthz", headers=many_headers(8))
        large = await client.get("/healthz", headers={"x-big": "a" * 2100})
    await app.state.paycheck.aclose()

    assert few.status_code == 200
    assert many.json() == {"description": "The request has more than 8 header fields"}
    assert large.status_code == 431


# The middleware alone, on raw ASGI scopes: the limits are exact.


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def call(
    middleware: HeaderLimitMiddleware, *, path: str, query: bytes, headers: list[Any]
) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
    }
    await middleware(scope, receive, send)
    status: int = sent[0]["status"]
    return status


@pytest.mark.parametrize(
    ("path", "query", "headers", "status"),
    [
        pytest.param("/" + "a" * 99, b"", [], 204, id="a target of exactly the limit"),
        pytest.param("/" + "a" * 100, b"", [], 414, id="a target one byte past"),
        pytest.param("/a", b"q=" + b"a" * 95, [], 204, id="path, ? and query at the limit"),
        pytest.param("/a", b"q=" + b"a" * 96, [], 414, id="path, ? and query one past"),
        pytest.param("/", b"", [(b"x", b"a" * 98)], 204, id="head of exactly the limit"),
        pytest.param("/", b"", [(b"x", b"a" * 99)], 431, id="head one byte past"),
        pytest.param("/", b"", [(b"x", b"")] * 5, 204, id="exactly max_headers"),
        pytest.param("/", b"", [(b"x", b"")] * 6, 431, id="one field more"),
    ],
)
async def test_the_middleware_limits_are_exact(
    path: str, query: bytes, headers: list[Any], status: int
) -> None:
    middleware = HeaderLimitMiddleware(ok_app, max_header_bytes=100, max_headers=5)

    assert await call(middleware, path=path, query=query, headers=headers) == status


async def test_scopes_other_than_http_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    middleware = HeaderLimitMiddleware(app, max_header_bytes=1, max_headers=1)
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    assert seen == ["lifespan"]


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "16384"])
@pytest.mark.parametrize("name", ["max_header_bytes", "max_headers"])
def test_a_limit_must_be_a_positive_int(name: str, value: Any) -> None:
    limits = {"max_header_bytes": 16384, "max_headers": 100, name: value}

    with pytest.raises(ValueError, match=name):
        HeadLimits(**limits)


def test_the_settings_refuse_absurd_limits() -> None:
    with pytest.raises(ValueError, match="max_header_bytes"):
        Settings(max_header_bytes=100)
    with pytest.raises(ValueError, match="max_headers"):
        Settings(max_headers=0)
