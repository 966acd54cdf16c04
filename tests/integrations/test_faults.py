"""Faults around the services: every adapter fails closed and recovers (issue 7).

A real HTTP server on a loopback port (:mod:`.faulty_server`) stands in for the payment
server and fails in each way of :data:`~.faulty_server.FAULTS`: down, hanging, answering after
2 seconds (the validators wait 0.5 s), 500, HTML, truncated JSON, a connection closed in the
middle of the body. Every adapter must then answer 503 with ``Retry-After`` and a
``{"description"}`` body, never reach the handler, cache nothing, log the reason without the
token, and grant the very first request once the payment server answers again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from paycheck_core import AsyncPaycheckClient, AsyncTokenValidator, PaycheckClient, TokenValidator
from paycheck_core.tokens import generate_token

from .conftest import (
    ADAPTERS,
    SERVICE,
    Reply,
    asgi_sender,
    bearer,
    fastapi_app,
    flask_app,
    starlette_app,
    wsgi_app,
    wsgi_sender,
)
from .faulty_server import FAULTS, Fault, FaultyPaymentServer, faulty_payment_server

CLIENT_TIMEOUT = 0.5  # seconds; the "slow" fault answers after 2


@pytest.fixture
def faulty() -> Iterator[FaultyPaymentServer]:
    with faulty_payment_server() as server:
        yield server


@dataclass
class Service:
    """One adapter in front of the faulty payment server."""

    get: Callable[[str], Awaitable[Reply]]
    handled: list[str]
    validator: TokenValidator | AsyncTokenValidator


@pytest.fixture(params=ADAPTERS)
async def service(
    request: pytest.FixtureRequest, faulty: FaultyPaymentServer
) -> AsyncIterator[Service]:
    name: str = request.param
    handled: list[str] = []
    if name in {"wsgi-middleware", "flask-extension"}:
        client = PaycheckClient(faulty.url, timeout=CLIENT_TIMEOUT)
        validator = TokenValidator(client, SERVICE, follow=False)
        app = (wsgi_app if name == "wsgi-middleware" else flask_app)(handled, validator)
        send = wsgi_sender(app)
        yield Service(lambda token: send("GET", "/getInfo", bearer(token)), handled, validator)
        client.close()
        return
    async_client = AsyncPaycheckClient(faulty.url, timeout=CLIENT_TIMEOUT)
    async_validator = AsyncTokenValidator(async_client, SERVICE, follow=False)
    if name == "starlette-middleware":
        app = starlette_app(handled, async_validator)
    else:
        app = fastapi_app(handled, async_validator, dependency=name == "fastapi-dependency")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:
        send = asgi_sender(app, http)
        yield Service(
            lambda token: send("GET", "/getInfo", bearer(token)), handled, async_validator
        )
    await async_client.aclose()


async def test_the_faulty_server_grants_when_it_is_well(
    service: Service, faulty: FaultyPaymentServer
) -> None:
    reply = await service.get(generate_token())

    assert reply.status == 200
    assert reply.json() == {"method": "getInfo"}
    assert faulty.requests == 1


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_failing_payment_server_gets_503_caches_nothing_and_recovers(
    service: Service, faulty: FaultyPaymentServer, fault: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    token = generate_token()
    faulty.fault = fault

    refused = await service.get(token)

    assert refused.status == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.headers["content-type"] == "application/json"
    assert list(refused.json()) == ["description"]
    assert token not in refused.body.decode()
    assert service.handled == []
    assert service.validator.stats.size == 0
    # The operator learns why, once, without the token.
    assert [(r.name, r.levelname) for r in caplog.records] == [("paycheck_integrations", "WARNING")]
    assert token not in caplog.text

    faulty.fault = None
    recovered = await service.get(token)

    assert recovered.status == 200
    assert service.handled == ["/getInfo"]
    assert faulty.requests == (1 if fault == "down" else 2)
