"""The adapters and the token-event feed: started at lifespan startup, ``follow=`` passed on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.types import Message

from paycheck_core import AsyncPaycheckClient, AsyncTokenValidator
from paycheck_integrations import fastapi as paycheck_fastapi
from paycheck_integrations import flask as paycheck_flask
from paycheck_integrations.asgi import PaycheckMiddleware
from paycheck_integrations.wsgi import PaycheckWSGIMiddleware

from .conftest import PAYMENTS_URL, SERVICE, FakePaymentServer

ADAPTERS: dict[str, Callable[..., Any]] = {
    "asgi": lambda **options: PaycheckMiddleware(Starlette(), **options),
    "fastapi": lambda **options: paycheck_fastapi.Paycheck(**options),
    "wsgi": lambda **options: PaycheckWSGIMiddleware(lambda e, s: [], **options),
    "flask": lambda **options: paycheck_flask.Paycheck(Flask(__name__), **options),
}


class Silent(httpx.AsyncByteStream):
    """An event stream that sends nothing until it is closed."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await self.closed.wait()
        yield b""

    async def aclose(self) -> None:
        self.closed.set()


class FeedOnly:
    """A payment server whose feed only records that it was asked for."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/token/events":
            self.connected.set()
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=Silent()
            )
        asked = json.loads(request.content)
        return httpx.Response(
            200, json={"allowed": True, "serviceName": SERVICE, "methodName": asked["methodName"]}
        )


async def lifespan_app(scope: Message, receive: Any, send: Any) -> None:
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def test_the_asgi_middleware_starts_following_at_lifespan_startup() -> None:
    server = FeedOnly()
    client = AsyncPaycheckClient(PAYMENTS_URL, transport=httpx.MockTransport(server))
    validator = AsyncTokenValidator(client, SERVICE)
    middleware = PaycheckMiddleware(lifespan_app, validator=validator)
    startup, shutdown = asyncio.Event(), asyncio.Event()
    sent: list[Message] = []

    async def receive() -> Message:
        if not startup.is_set():
            startup.set()
            return {"type": "lifespan.startup"}
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        sent.append(message)

    lifespan = asyncio.ensure_future(middleware({"type": "lifespan"}, receive, send))
    async with asyncio.timeout(5):
        await server.connected.wait()  # before any request

    assert [request.url.path for request in server.requests] == ["/token/events"]
    assert sent == [{"type": "lifespan.startup.complete"}]
    shutdown.set()
    await lifespan
    assert validator._feed is not None
    assert validator._feed.task is not None
    assert not validator._feed.task.done()  # a validator that was given is not closed
    await validator.aclose()
    assert validator._feed.task.done()
    await client.aclose()


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("follow", [True, False])
def test_follow_is_passed_to_the_validator_made_from_server_url(adapter: str, follow: bool) -> None:
    options: dict[str, Any] = {"service": SERVICE, "server_url": PAYMENTS_URL, "follow": follow}
    if adapter == "flask":
        app = Flask(__name__)
        validator = paycheck_flask.Paycheck(app, **options).validator(app)
    else:
        validator = ADAPTERS[adapter](**options).validator

    assert (validator.stats.feed is not None) is follow
    assert validator.ttl == (3600 if follow else 300)


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_follow_false_with_a_ready_validator_is_a_value_error(
    adapter: str, payments: FakePaymentServer
) -> None:
    validator = (
        payments.async_validator() if adapter in {"asgi", "fastapi"} else payments.sync_validator()
    )

    with pytest.raises(ValueError, match="follow=False is for the validator made from server_url"):
        ADAPTERS[adapter](validator=validator, follow=False)
