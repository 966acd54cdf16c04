"""A request is checked for the name of the route that answers it, whatever came before.

Each scenario puts a cheap method (``getInfo``) and a costly one (``placeOrder``) on requests
that differ only in what routing reads beyond the HTTP method and the path: the scope type
(websocket or HTTP), the ``Host`` header, ``root_path`` (under a ``Mount`` too), or a path
parameter of a mounted or included router. Every order of those requests, each sent with a
token for the cheap method and with one for the costly method, runs against a fresh app: a
token reaches a handler only when it paid for that handler's route, and then its grant names
that route (so a cheap token never reaches the costly route, and a paying caller is never
refused).

The adapters that route before they check (the ASGI middleware, on Starlette, wrapping a
Starlette app, and on FastAPI) must find that route themselves; the FastAPI dependency and
the Flask extension run after routing and must agree. (The WSGI middleware knows no routes:
its name depends on the HTTP method and the path alone.)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi import Request as FastAPIRequest
from fastapi import WebSocket as FastAPIWebSocket
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute
from starlette.websockets import WebSocket
from werkzeug.test import Client as WerkzeugClient

from paycheck_integrations import fastapi as paycheck_fastapi
from paycheck_integrations import flask as paycheck_flask
from paycheck_integrations.asgi import WEBSOCKET_POLICY_VIOLATION, PaycheckMiddleware

from .conftest import FakePaymentServer

CHEAP, COSTLY = "getInfo", "placeOrder"


@dataclass(frozen=True)
class Call:
    """One request, and the name of the route that answers it."""

    answered_by: str
    path: str
    kind: str = "http"
    host: str = "service.test"
    root_path: str = ""


# --- the routes, as Starlette routes and as FastAPI routes ---------------------------------


def http_endpoint(name: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"route": name, "grant": request.scope["paycheck"].method})

    return endpoint


def websocket_endpoint(name: str) -> Callable[[WebSocket], Any]:
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(
            json.dumps({"route": name, "grant": websocket.scope["paycheck"].method})
        )
        await websocket.close()

    return endpoint


def fastapi_http(app: FastAPI | APIRouter, path: str, name: str) -> None:
    async def endpoint(request: FastAPIRequest) -> dict[str, str]:
        return {"route": name, "grant": request.scope["paycheck"].method}

    app.get(path, name=name)(endpoint)


def fastapi_websocket(app: FastAPI, path: str, name: str) -> None:
    async def endpoint(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(
            json.dumps({"route": name, "grant": websocket.scope["paycheck"].method})
        )
        await websocket.close()

    app.websocket(path, name=name)(endpoint)


@dataclass(frozen=True)
class Scenario:
    """Routes in both frameworks, and the calls that tell them apart."""

    starlette: Callable[[], list[BaseRoute]]
    fastapi: Callable[[FastAPI, Callable[[], FastAPI]], None]  # (app, make a protected sub-app)
    calls: tuple[Call, ...]


def websocket_beside_http_fastapi(app: FastAPI, sub: Callable[[], FastAPI]) -> None:
    fastapi_http(app, "/feed", CHEAP)
    fastapi_websocket(app, "/feed", COSTLY)


def hosts_fastapi(app: FastAPI, sub: Callable[[], FastAPI]) -> None:
    costly, cheap = sub(), sub()
    fastapi_http(costly, "/data", COSTLY)
    fastapi_http(cheap, "/data", CHEAP)
    app.host("{shop}.example", costly)
    app.host("cheap.local", cheap)


def root_path_fastapi(app: FastAPI, sub: Callable[[], FastAPI]) -> None:
    fastapi_http(app, "/svc/data", CHEAP)
    fastapi_http(app, "/data", COSTLY)


def mount_fastapi(app: FastAPI, sub: Callable[[], FastAPI]) -> None:
    mounted = sub()
    fastapi_http(mounted, "/data", COSTLY)
    app.mount("/v1", mounted)
    fastapi_http(app, "/data", CHEAP)


def path_parameter_fastapi(app: FastAPI, sub: Callable[[], FastAPI]) -> None:
    orders = APIRouter()
    fastapi_http(orders, "/{kind}", COSTLY)
    app.include_router(orders, prefix="/orders")
    fastapi_http(app, "/getInfo", CHEAP)


SCENARIOS = {
    "websocket beside http": Scenario(
        starlette=lambda: [
            Route("/feed", http_endpoint(CHEAP), name=CHEAP),
            WebSocketRoute("/feed", websocket_endpoint(COSTLY), name=COSTLY),
        ],
        fastapi=websocket_beside_http_fastapi,
        calls=(Call(CHEAP, "/feed"), Call(COSTLY, "/feed", kind="websocket")),
    ),
    "host routes": Scenario(
        starlette=lambda: [
            Host("{shop}.example", Router([Route("/data", http_endpoint(COSTLY), name=COSTLY)])),
            Host("cheap.local", Router([Route("/data", http_endpoint(CHEAP), name=CHEAP)])),
        ],
        fastapi=hosts_fastapi,
        calls=(Call(CHEAP, "/data", host="cheap.local"), Call(COSTLY, "/data", host="a.example")),
    ),
    "root_path": Scenario(
        starlette=lambda: [
            Route("/svc/data", http_endpoint(CHEAP), name=CHEAP),
            Route("/data", http_endpoint(COSTLY), name=COSTLY),
        ],
        fastapi=root_path_fastapi,
        calls=(Call(CHEAP, "/svc/data"), Call(COSTLY, "/svc/data", root_path="/svc")),
    ),
    "mount and root_path": Scenario(
        starlette=lambda: [
            Mount("/v1", routes=[Route("/data", http_endpoint(COSTLY), name=COSTLY)]),
            Route("/data", http_endpoint(CHEAP), name=CHEAP),
        ],
        fastapi=mount_fastapi,
        calls=(Call(COSTLY, "/v1/data"), Call(CHEAP, "/v1/data", root_path="/v1")),
    ),
    "path parameter of a mounted router": Scenario(
        starlette=lambda: [
            Mount("/orders", routes=[Route("/{kind}", http_endpoint(COSTLY), name=COSTLY)]),
            Route("/getInfo", http_endpoint(CHEAP), name=CHEAP),
        ],
        fastapi=path_parameter_fastapi,
        calls=(Call(COSTLY, "/orders/getInfo"), Call(CHEAP, "/getInfo")),
    ),
}


# --- the adapters ---------------------------------------------------------------------------


def starlette_middleware(scenario: Scenario, payments: FakePaymentServer) -> Any:
    app = Starlette(routes=scenario.starlette())
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    return app


def starlette_wrapped(scenario: Scenario, payments: FakePaymentServer) -> Any:
    return PaycheckMiddleware(
        Starlette(routes=scenario.starlette()), validator=payments.async_validator()
    )


def fastapi_middleware(scenario: Scenario, payments: FakePaymentServer) -> Any:
    app = FastAPI()
    scenario.fastapi(app, FastAPI)
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    return app


def fastapi_dependency(scenario: Scenario, payments: FakePaymentServer) -> Any:
    paycheck = paycheck_fastapi.Paycheck(validator=payments.async_validator())

    def protected() -> FastAPI:
        return FastAPI(dependencies=[Depends(paycheck.require())])

    app = protected()
    scenario.fastapi(app, protected)
    return app


ROUTING_ADAPTERS = {
    "starlette-middleware": starlette_middleware,
    "starlette-wrapped-by-the-middleware": starlette_wrapped,
    "fastapi-middleware": fastapi_middleware,
    "fastapi-dependency": fastapi_dependency,
}


# --- driving an ASGI app message by message -------------------------------------------------


async def answer(app: Any, call: Call, token: str) -> dict[str, str] | None:
    """What the handler saw (its route and the grant's method), or ``None`` if refused."""
    headers = [(b"host", call.host.encode()), (b"authorization", f"Bearer {token}".encode())]
    scope: dict[str, Any] = {
        "type": call.kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if call.kind == "http" else "ws",
        "server": (call.host, 80),
        "client": ("127.0.0.1", 5000),
        "path": call.path,
        "raw_path": call.path.encode(),
        "root_path": call.root_path,
        "query_string": b"",
        "headers": headers,
    }
    if call.kind == "http":
        scope["method"] = "GET"
        incoming = [{"type": "http.request", "body": b""}]
        ending = {"type": "http.disconnect"}
    else:
        scope["subprotocols"] = []
        incoming = [{"type": "websocket.connect"}]
        ending = {"type": "websocket.disconnect", "code": 1000}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else ending

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if call.kind == "websocket":
        if sent[0]["type"] == "websocket.close":
            assert sent[0]["code"] == WEBSOCKET_POLICY_VIOLATION
            return None
        assert [m["type"] for m in sent] == [
            "websocket.accept",
            "websocket.send",
            "websocket.close",
        ]
        return dict(json.loads(sent[1]["text"]))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    if status == 403:
        return None
    assert status == 200, body
    return dict(json.loads(body))


def every_order(calls: Iterable[Call]) -> list[tuple[tuple[Call, str], ...]]:
    """Every order of every call, each with the cheap token and with the costly one."""
    sends = [(call, paid) for call in calls for paid in (CHEAP, COSTLY)]
    return list(itertools.permutations(sends))


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
@pytest.mark.parametrize("make", ROUTING_ADAPTERS.values(), ids=ROUTING_ADAPTERS.keys())
async def test_the_checked_name_is_the_answering_routes_in_every_order(
    make: Callable[[Scenario, FakePaymentServer], Any], scenario: Scenario
) -> None:
    for order in every_order(scenario.calls):
        payments = FakePaymentServer()
        app = make(scenario, payments)
        tokens = {paid: payments.sell(paid) for paid in (CHEAP, COSTLY)}
        for call, paid in order:
            seen = await answer(app, call, tokens[paid])

            expected = {"route": paid, "grant": paid} if paid == call.answered_by else None
            assert seen == expected, (call, paid, order)


# --- the Flask extension: routing by host ---------------------------------------------------


def flask_host_app(payments: FakePaymentServer) -> Flask:
    app = Flask(__name__, host_matching=True, static_host="static.local")
    paycheck_flask.Paycheck(app, validator=payments.sync_validator())

    def view(name: str) -> Callable[[], Any]:
        return lambda **host: {"route": name, "grant": paycheck_flask.current_grant.method}

    app.add_url_rule("/data", COSTLY, view(COSTLY), host="<shop>.example")
    app.add_url_rule("/data", CHEAP, view(CHEAP), host="cheap.local")
    return app


def test_the_flask_extension_checks_the_view_that_answers_in_every_order() -> None:
    calls = (Call(CHEAP, "/data", host="cheap.local"), Call(COSTLY, "/data", host="a.example"))
    for order in every_order(calls):
        payments = FakePaymentServer()
        client = WerkzeugClient(flask_host_app(payments))
        tokens = {paid: payments.sell(paid) for paid in (CHEAP, COSTLY)}
        for call, paid in order:
            reply = client.get(
                call.path,
                base_url=f"http://{call.host}",
                headers={"Authorization": f"Bearer {tokens[paid]}"},
            )

            if paid == call.answered_by:
                assert reply.json == {"route": paid, "grant": paid}
            else:
                assert reply.status_code == 403
