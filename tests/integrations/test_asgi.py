"""The ASGI middleware beyond the shared rules: method names, websockets, lifespan, the grant."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Host, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from paycheck_integrations.asgi import WEBSOCKET_POLICY_VIOLATION, PaycheckMiddleware

from .conftest import FakePaymentServer, bearer


async def grant_of(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "scope": request.scope["paycheck"].method,
            "state": request.state.paycheck.method,
            "paidUntil": str(request.state.paycheck.paid_until),
        }
    )


async def call(app: Any, path: str, token: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        return await client.request(method, path, headers=bearer(token))


def protected(app: Any, payments: FakePaymentServer, **options: Any) -> PaycheckMiddleware:
    return PaycheckMiddleware(app, validator=payments.async_validator(), **options)


# --- method names -------------------------------------------------------------------------


async def test_the_method_is_the_starlette_route_name(payments: FakePaymentServer) -> None:
    app = Starlette(routes=[Route("/v1/info/{id}", grant_of, name="getInfo")])
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    token = payments.sell("getInfo")

    response = await call(app, "/v1/info/7", token)

    assert response.status_code == 200
    assert response.json()["scope"] == "getInfo"


async def test_a_mounted_route_gives_its_own_name(payments: FakePaymentServer) -> None:
    inner = [Route("/info", grant_of, name="getInfo")]
    app = Starlette(routes=[Mount("/api", routes=inner, name="api")])
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    token = payments.sell("getInfo")

    response = await call(app, "/api/info", token)

    assert response.json()["scope"] == "getInfo"


async def test_the_methods_mapping_wins_over_the_route_name(payments: FakePaymentServer) -> None:
    app = Starlette(routes=[Route("/items/{id}", grant_of, methods=["POST"], name="items")])
    app.add_middleware(
        PaycheckMiddleware,
        validator=payments.async_validator(),
        methods={"POST /items/{id}": "updateItem"},
    )
    token = payments.sell("updateItem")

    response = await call(app, "/items/3", token, method="POST")

    assert response.json()["scope"] == "updateItem"


async def test_a_plain_asgi_app_uses_the_last_path_segment(payments: FakePaymentServer) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = PlainTextResponse(scope["paycheck"].method)
        await response(scope, receive, send)

    token = payments.sell("getInfo")

    response = await call(protected(app, payments), "/v1/getInfo", token)

    assert response.text == "getInfo"


async def test_a_path_is_named_once_however_often_it_is_called(
    payments: FakePaymentServer,
) -> None:
    seen: list[str] = []

    def name(method: str, path: str) -> str:
        seen.append(path)
        return "getInfo"

    app = Starlette(routes=[Route("/info", grant_of)])
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator(), methods=name)
    token = payments.sell("getInfo")

    for _ in range(3):
        assert (await call(app, "/info", token)).status_code == 200
    assert seen == ["/info"]


# --- the grant ----------------------------------------------------------------------------


async def test_the_grant_is_in_the_scope_and_in_request_state(payments: FakePaymentServer) -> None:
    app = Starlette(routes=[Route("/getInfo", grant_of, name="getInfo")])
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())

    response = await call(app, "/getInfo", payments.sell("getInfo"))

    assert response.json() == {"scope": "getInfo", "state": "getInfo", "paidUntil": "2026-12-31"}


# --- websockets and lifespan, driven message by message -----------------------------------

Message = dict[str, Any]


async def converse(app: Any, scope: Message, incoming: list[Message]) -> list[Message]:
    """Run ``app`` on ``scope`` as a server would, feeding it ``incoming``; what it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}  # the client has gone

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def websocket_scope(path: str, token: str | None = None) -> Message:
    headers = bearer(token) if token is not None else []
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "server": ("service.test", 80),
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "subprotocols": [],
    }


async def echo_grant(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.scope["paycheck"].method)
    await websocket.close()


def websocket_app(payments: FakePaymentServer) -> Starlette:
    app = Starlette(routes=[WebSocketRoute("/stream", echo_grant, name="getStream")])
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    return app


async def test_a_websocket_without_a_token_is_closed_as_a_policy_violation(
    payments: FakePaymentServer,
) -> None:
    sent = await converse(
        websocket_app(payments), websocket_scope("/stream"), [{"type": "websocket.connect"}]
    )

    assert len(sent) == 1
    assert sent[0]["type"] == "websocket.close"
    assert sent[0]["code"] == WEBSOCKET_POLICY_VIOLATION
    assert "Authorization: Bearer" in sent[0]["reason"]


async def test_a_websocket_with_a_rejected_token_is_closed(payments: FakePaymentServer) -> None:
    token = payments.sell("anotherMethod")

    sent = await converse(
        websocket_app(payments), websocket_scope("/stream", token), [{"type": "websocket.connect"}]
    )

    assert [(m["type"], m.get("code")) for m in sent] == [
        ("websocket.close", WEBSOCKET_POLICY_VIOLATION)
    ]
    assert payments.checks[0]["methodName"] == "getStream"


async def test_a_websocket_with_a_paid_token_gets_its_grant(payments: FakePaymentServer) -> None:
    token = payments.sell("getStream")

    sent = await converse(
        websocket_app(payments), websocket_scope("/stream", token), [{"type": "websocket.connect"}]
    )

    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "getStream"


async def test_lifespan_passes_through_to_the_app(payments: FakePaymentServer) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"db": "connected"}
        events.append("shutdown")

    async def read_state(request: Request) -> JSONResponse:
        return JSONResponse({"db": request.state.db, "grant": request.state.paycheck.method})

    app = Starlette(routes=[Route("/getInfo", read_state)], lifespan=lifespan)
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    state: Message = {}
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    sent = await converse(app, scope, messages)

    assert events == ["startup", "shutdown"]
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert state == {"db": "connected"}


async def test_the_grant_joins_the_lifespan_state_of_the_request(
    payments: FakePaymentServer,
) -> None:
    async def read_state(request: Request) -> JSONResponse:
        return JSONResponse({"db": request.state.db, "grant": request.state.paycheck.method})

    app = protected(Starlette(routes=[Route("/getInfo", read_state, name="getInfo")]), payments)
    token = payments.sell("getInfo")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("service.test", 80),
        "path": "/getInfo",
        "raw_path": b"/getInfo",
        "root_path": "",
        "query_string": b"",
        "headers": bearer(token),
        "state": {"db": "connected"},
    }

    sent = await converse(app, scope, [{"type": "http.request", "body": b""}])

    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"db": "connected", "grant": "getInfo"}


async def test_a_validator_made_from_a_url_is_closed_at_shutdown() -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    middleware = PaycheckMiddleware(
        app, service="Online marketplace", server_url="http://payments.test"
    )
    http = middleware.validator.client._http
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    sent = await converse(middleware, {"type": "lifespan", "asgi": {"version": "3.0"}}, messages)

    assert sent[-1] == {"type": "lifespan.shutdown.complete"}
    assert http.is_closed


# --- preflights -----------------------------------------------------------------------------

PREFLIGHT = [(b"origin", b"https://shop.example"), (b"access-control-request-method", b"GET")]


async def plain_paid_app(scope: Message, receive: Any, send: Any) -> None:
    grant = scope.get("paycheck")
    response = PlainTextResponse(f"paid content for {grant.method if grant else None}")
    await response(scope, receive, send)


async def request(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]]
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        return await client.request(method, path, headers=headers)


async def test_a_plain_app_mounted_in_starlette_needs_a_token_for_options(
    payments: FakePaymentServer,
) -> None:
    app = Starlette(routes=[Mount("/legacy", app=protected(plain_paid_app, payments))])

    bare = await request(app, "OPTIONS", "/legacy/getInfo", [])
    preflight = await request(app, "OPTIONS", "/legacy/getInfo", PREFLIGHT)

    assert bare.status_code == 401
    assert (preflight.status_code, preflight.content) == (200, b"")
    assert preflight.headers["content-length"] == "0"


async def test_a_streamed_preflight_answer_leaves_without_its_body(
    payments: FakePaymentServer,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"paid ", b"content"):
            yield chunk

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), headers={"x-kept": "yes"})

    app = Starlette(routes=[Route("/getInfo", stream, methods=["GET", "OPTIONS"])])
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())

    reply = await request(app, "OPTIONS", "/getInfo", PREFLIGHT)

    assert (reply.status_code, reply.content) == (200, b"")
    assert reply.headers["x-kept"] == "yes"


# --- where the middleware sits, and what routing it sees ----------------------------------


async def test_route_level_middleware_checks_its_routes_name(payments: FakePaymentServer) -> None:
    middleware = [Middleware(PaycheckMiddleware, validator=payments.async_validator())]
    app = Starlette(routes=[Route("/v1/info", grant_of, name="getInfo", middleware=middleware)])

    response = await call(app, "/v1/info", payments.sell("getInfo"))

    assert response.json()["scope"] == "getInfo"


async def test_one_plain_app_under_two_hosts_is_checked_for_each_hosts_name(
    payments: FakePaymentServer,
) -> None:
    shared = protected(plain_paid_app, payments)
    app = Starlette(
        routes=[
            Host("costly.local", app=shared, name="placeOrder"),
            Host("cheap.local", app=shared, name="getInfo"),
        ]
    )
    cheap = payments.sell("getInfo")

    def to(host: str) -> list[tuple[bytes, bytes]]:
        return [(b"host", host.encode()), *bearer(cheap)]

    replies = [
        await request(app, "GET", "/data", to(host))
        for host in ("cheap.local", "costly.local", "cheap.local")
    ]

    assert [reply.status_code for reply in replies] == [200, 403, 200]


class Opaque:
    """A middleware that keeps its next app where the middleware cannot follow it."""

    def __init__(self, app: Any) -> None:
        self._next = app

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        await self._next(scope, receive, send)


async def test_routes_hidden_behind_another_middleware_still_name_requests(
    payments: FakePaymentServer,
) -> None:
    app = Starlette(
        routes=[Route("/orders/{kind}", grant_of, name="placeOrder")],
        middleware=[
            Middleware(PaycheckMiddleware, validator=payments.async_validator()),
            Middleware(Opaque),
        ],
    )

    refused = await call(app, "/orders/getInfo", payments.sell("getInfo"))
    granted = await call(app, "/orders/getInfo", payments.sell("placeOrder"))

    assert refused.status_code == 403
    assert granted.json()["scope"] == "placeOrder"
