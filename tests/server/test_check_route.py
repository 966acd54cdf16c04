"""``CheckRoute``, the short way of ``POST /token/check`` through FastAPI.

A valid JSON body skips FastAPI's dependency solving; everything else goes through FastAPI's
own handler. Either way the endpoint must get the same body, and a client the same answer, as
through a plain FastAPI route: each request below is sent to both and the answers compared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse

from paycheck_server.api.errors import install_error_handlers
from paycheck_server.api.schemas import TokenCheckRequest
from paycheck_server.api.service import CheckRoute

JSON = "application/json"
VALID = b'{"token": "pct_x", "serviceName": "Online marketplace", "methodName": "getInfo"}'

REQUESTS: dict[str, tuple[bytes, str | None]] = {
    "valid": (VALID, JSON),
    "valid, no content type": (VALID, None),
    "valid, charset": (VALID, "application/json; charset=utf-8"),
    "valid, +json": (VALID, "application/vnd.paycheck+json"),
    "valid, as text/plain": (VALID, "text/plain"),
    "valid, as a form": (VALID, "application/x-www-form-urlencoded"),
    "extra fields": (VALID[:-1] + b', "extra": [1, {"x": null}]}', JSON),
    "a key twice": (VALID[:-1] + b', "token": "pct_y"}', JSON),
    "escapes": (b'{"token": "pct_\\u00e9\\n", "serviceName": "S\\"", "methodName": "m"}', JSON),
    "a lone surrogate": (b'{"token": "\\ud800", "serviceName": "S", "methodName": "m"}', JSON),
    "UTF-8 text": ('{"token": "é", "serviceName": "Météo", "methodName": "m"}'.encode(), JSON),
    "not UTF-8": (b'{"token": "\xff", "serviceName": "S", "methodName": "m"}', JSON),
    "no body": (b"", JSON),
    "no body, no content type": (b"", None),
    "invalid JSON": (b'{"token": ', JSON),
    "trailing data": (VALID + b" {}", JSON),
    "NaN": (b'{"token": NaN, "serviceName": "S", "methodName": "m"}', JSON),
    "a list": (b"[]", JSON),
    "a string": (b'"pct_x"', JSON),
    "null": (b"null", JSON),
    "an empty object": (b"{}", JSON),
    "a number token": (b'{"token": 7, "serviceName": "S", "methodName": "m"}', JSON),
    "an empty service": (b'{"token": "t", "serviceName": "", "methodName": "m"}', JSON),
    "a long token": (
        b'{"token": "' + b"a" * 1001 + b'", "serviceName": "S", "methodName": "m"}',
        JSON,
    ),
    "names by attribute": (b'{"token": "t", "service_name": "S", "method_name": "m"}', JSON),
}


async def echo(body: TokenCheckRequest, request: Request) -> PlainTextResponse:
    return PlainTextResponse(repr(body.model_dump()))


def app_with(route_class: type | None) -> FastAPI:
    app = FastAPI(strict_content_type=False)
    install_error_handlers(app)
    router = APIRouter(route_class=route_class) if route_class else APIRouter()
    router.post("/token/check")(echo)
    app.include_router(router)
    return app


@pytest.fixture
async def clients() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_with(CheckRoute)), base_url="http://check"
        ) as ours,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_with(None)), base_url="http://plain"
        ) as plain,
    ):
        yield ours, plain


@pytest.mark.parametrize("name", REQUESTS)
async def test_every_body_is_answered_as_by_a_plain_fastapi_route(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], name: str
) -> None:
    content, content_type = REQUESTS[name]
    headers = {} if content_type is None else {"Content-Type": content_type}
    ours, plain = clients

    mine = await ours.post("/token/check", content=content, headers=headers)
    theirs = await plain.post("/token/check", content=content, headers=headers)

    assert (mine.status_code, mine.text) == (theirs.status_code, theirs.text)


async def test_a_valid_body_reaches_the_endpoint_parsed(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    ours, _ = clients

    response = await ours.post("/token/check", content=VALID, headers={"Content-Type": JSON})

    assert response.status_code == 200
    assert response.text == repr(
        {"token": "pct_x", "service_name": "Online marketplace", "method_name": "getInfo"}
    )
