"""A method no token can pay for is the caller's problem, never an outage of the payment server.

The payment server answers 400 to a ``methodName`` longer than 200 characters. Names the
service author fixes in code are refused at configuration (``test_configuration``); names that
arrive at run time (route names, endpoints, a ``methods`` callable, the path's last segment)
are refused per request with 400 ``invalid_request``, without asking the payment server, a
503 or a log line above INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from werkzeug.test import Client as WerkzeugClient

from paycheck_integrations import fastapi as paycheck_fastapi
from paycheck_integrations import flask as paycheck_flask
from paycheck_integrations.asgi import PaycheckMiddleware
from paycheck_integrations.wsgi import PaycheckWSGIMiddleware

from .conftest import FakePaymentServer

TOO_LONG = "m" * 201
Get = Callable[[str, str], Awaitable[httpx.Response]]


def asgi_get(app: Any) -> Get:
    async def get(path: str, token: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as c:
            return await c.get(path, headers={"Authorization": f"Bearer {token}"})

    return get


def wsgi_get(app: Any) -> Get:
    async def get(path: str, token: str) -> httpx.Response:
        reply = WerkzeugClient(app).get(path, headers={"Authorization": f"Bearer {token}"})
        return httpx.Response(reply.status_code, headers=list(reply.headers), content=reply.data)

    return get


async def ok(request: Any) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_route_name(payments: FakePaymentServer) -> Get:
    app = Starlette(routes=[Route("/long", ok, name=TOO_LONG)])
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    return asgi_get(app)


def asgi_methods_callable(payments: FakePaymentServer) -> Get:
    app = Starlette(routes=[Route("/long", ok, name="getInfo")])
    app.add_middleware(
        PaycheckMiddleware, validator=payments.async_validator(), methods=lambda m, p: TOO_LONG
    )
    return asgi_get(app)


def fastapi_middleware_route_name(payments: FakePaymentServer) -> Get:
    app = FastAPI()
    app.add_middleware(PaycheckMiddleware, validator=payments.async_validator())
    app.get("/long", name=TOO_LONG)(lambda: "ok")
    return asgi_get(app)


def fastapi_dependency_route_name(payments: FakePaymentServer) -> Get:
    paycheck = paycheck_fastapi.Paycheck(validator=payments.async_validator())
    app = FastAPI(dependencies=[Depends(paycheck.require())])
    app.get("/long", name=TOO_LONG)(lambda: "ok")
    return asgi_get(app)


def wsgi_methods_callable(payments: FakePaymentServer) -> Get:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        return [b"ok"]

    return wsgi_get(
        PaycheckWSGIMiddleware(
            app, validator=payments.sync_validator(), methods=lambda m, p: TOO_LONG
        )
    )


def flask_endpoint(payments: FakePaymentServer) -> Get:
    app = Flask(__name__)
    paycheck_flask.Paycheck(app, validator=payments.sync_validator())
    app.add_url_rule("/long", TOO_LONG, lambda: "ok")
    return wsgi_get(app)


RUN_TIME_NAMES = {
    "starlette route name": starlette_route_name,
    "asgi methods callable": asgi_methods_callable,
    "fastapi middleware, route name": fastapi_middleware_route_name,
    "fastapi dependency, route name": fastapi_dependency_route_name,
    "wsgi methods callable": wsgi_methods_callable,
    "flask endpoint": flask_endpoint,
}


@pytest.mark.parametrize("make", RUN_TIME_NAMES.values(), ids=RUN_TIME_NAMES.keys())
async def test_a_run_time_name_too_long_to_buy_is_refused_without_asking_the_server(
    payments: FakePaymentServer,
    make: Callable[[FakePaymentServer], Get],
    caplog: pytest.LogCaptureFixture,
) -> None:
    get = make(payments)
    token = payments.sell(TOO_LONG)

    first = await get("/long", token)
    second = await get("/long", token)

    for reply in (first, second):
        assert reply.status_code == 400
        assert reply.json() == {"description": reply.json()["description"]}
        assert "200 characters" in reply.json()["description"]
        assert 'error="invalid_request"' in reply.headers["www-authenticate"]
    assert payments.calls == 0
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
