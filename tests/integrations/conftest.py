"""The integrations' test bench: a scripted payment server and one harness per adapter.

Every adapter is tested through its real HTTP surface: ASGI apps through
``httpx.ASGITransport``, WSGI apps through Werkzeug's test client (which, like real WSGI
servers, joins repeated headers with a comma). The payment server is a
:class:`FakePaymentServer` behind the validator's ``httpx.MockTransport``; it counts the
checks it answers.

The :func:`harness` fixture runs a test once per adapter: the ASGI middleware on a Starlette
app and on a FastAPI app, the FastAPI dependency, the WSGI middleware and the Flask extension.
Each harness app has the same routes:

* ``GET``/``OPTIONS /getInfo`` and ``GET /getStats``: paid methods named after their path;
  they answer ``{"method": <the grant's method>}`` as the handler sees the grant;
* ``GET /public`` and ``GET /docs/page``: excluded (``exclude_paths=["/public", "/docs*"]``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from flask import Flask, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client as WerkzeugClient

from paycheck_core import (
    AccessDecision,
    AsyncPaycheckClient,
    AsyncTokenValidator,
    PaycheckClient,
    TokenValidator,
)
from paycheck_core.tokens import generate_token
from paycheck_integrations import fastapi as paycheck_fastapi
from paycheck_integrations import flask as paycheck_flask
from paycheck_integrations.asgi import PaycheckMiddleware
from paycheck_integrations.wsgi import PaycheckWSGIMiddleware

SERVICE = "Online marketplace"
PAYMENTS_URL = "http://payments.test"
EXCLUDED = ("/public", "/docs*")
PAID_UNTIL = "2026-12-31"
_WAIT_LIMIT = 10.0  # seconds a scripted answer waits for concurrent callers before giving up

Headers = Sequence[tuple[bytes, bytes]]


class FakePaymentServer:
    """``POST /token/check`` as the seed contract answers it, scripted per token.

    Like Paycheck's server (``docs/openapi/service.yml``), it answers 400 to a
    ``serviceName`` or ``methodName`` longer than 200 characters or a token longer than 1000.

    Attributes:
        checks: the JSON bodies of the checks received, in order.
        failure: ``None`` to answer, or ``"down"``, ``"timeout"``, ``"5xx"`` to fail, or
            ``"400"`` to refuse every check as malformed.
        hold_until_misses: make the first check wait until the validator counts this many
            misses (callers waiting for an answer), to prove they share one call.
    """

    def __init__(self) -> None:
        self.grants: dict[str, frozenset[str]] = {}
        self.checks: list[dict[str, Any]] = []
        self.failure: str | None = None
        self.hold_until_misses = 0
        self.validator: TokenValidator | AsyncTokenValidator | None = None

    @property
    def calls(self) -> int:
        """How many checks reached the server."""
        return len(self.checks)

    def sell(self, *methods: str) -> str:
        """A fresh token paid for ``methods`` of :data:`SERVICE`."""
        token = generate_token()
        self.grants[token] = frozenset(methods)
        return token

    def _misses(self) -> int:
        return 0 if self.validator is None else self.validator.stats.misses

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The sync transport's handler."""
        deadline = time.monotonic() + _WAIT_LIMIT
        while self._misses() < self.hold_until_misses and time.monotonic() < deadline:
            time.sleep(0.001)
        return self._answer(request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        """The async transport's handler."""
        deadline = time.monotonic() + _WAIT_LIMIT
        # No event signals the validator's counter, so poll it.
        while self._misses() < self.hold_until_misses and time.monotonic() < deadline:  # noqa: ASYNC110 - see above
            await asyncio.sleep(0.001)
        return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.checks.append(body)
        if self.failure == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.failure == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.failure == "5xx":
            return httpx.Response(500, json={"description": "Internal server error"})
        malformed = [
            f"{field}: String should have at most {limit} characters"
            for field, limit in (("token", 1000), ("serviceName", 200), ("methodName", 200))
            if len(body[field]) > limit
        ]
        if self.failure == "400":
            malformed.append("token: String should match the contract")
        if malformed:
            return httpx.Response(400, json={"description": "; ".join(malformed)})
        methods = self.grants.get(body["token"])
        if methods is None:
            return httpx.Response(401, json={"description": "Invalid or expired token"})
        if body["serviceName"] != SERVICE or body["methodName"] not in methods:
            return httpx.Response(
                403, json={"description": "Access to service or method is forbidden"}
            )
        return httpx.Response(
            200,
            json={
                "allowed": True,
                "serviceName": body["serviceName"],
                "methodName": body["methodName"],
                "paidUntil": PAID_UNTIL,
            },
            headers={"Cache-Control": "max-age=300"},
        )

    def sync_validator(self, **options: Any) -> TokenValidator:
        """A :class:`TokenValidator` whose client talks to this server."""
        client = PaycheckClient(PAYMENTS_URL, transport=httpx.MockTransport(self.handle))
        options.setdefault("follow", False)  # this server has no feed: test_feed.py has one
        validator = TokenValidator(client, SERVICE, **options)
        self.validator = validator
        return validator

    def async_validator(self, **options: Any) -> AsyncTokenValidator:
        """An :class:`AsyncTokenValidator` whose client talks to this server."""
        transport = httpx.MockTransport(self.handle_async)
        options.setdefault("follow", False)  # this server has no feed: test_feed.py has one
        validator = AsyncTokenValidator(
            AsyncPaycheckClient(PAYMENTS_URL, transport=transport), SERVICE, **options
        )
        self.validator = validator
        return validator


@pytest.fixture
def payments() -> FakePaymentServer:
    return FakePaymentServer()


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    """The headers of a request that sends ``token``."""
    return [(b"authorization", f"Bearer {token}".encode())]


@dataclass
class Reply:
    """What a harness app answered."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Harness:
    """One adapter protecting the common routes, driven the same way for every adapter."""

    name: str
    payments: FakePaymentServer
    send: Callable[[str, str, Headers], Awaitable[Reply]]
    handled: list[str] = field(default_factory=list)

    async def request(self, method: str, path: str, headers: Headers = ()) -> Reply:
        return await self.send(method, path, headers)

    async def get(self, path: str, token: str | None = None) -> Reply:
        return await self.send("GET", path, bearer(token) if token is not None else ())


def grant_body(grant: AccessDecision | None) -> dict[str, Any]:
    """The body a harness handler answers with: what it saw of the grant."""
    return {"method": None if grant is None else grant.method}


# --- ASGI harnesses ----------------------------------------------------------------------


def starlette_app(handled: list[str], validator: AsyncTokenValidator) -> Any:
    async def endpoint(request: StarletteRequest) -> JSONResponse:
        handled.append(request.url.path)
        return JSONResponse(grant_body(request.scope.get("paycheck")))

    routes = [
        Route("/getInfo", endpoint, methods=["GET", "OPTIONS"], name="getInfo"),
        Route("/getStats", endpoint, name="getStats"),
        Route("/public", endpoint, name="public"),
        Route("/docs/page", endpoint, name="docsPage"),
    ]
    middleware = [Middleware(PaycheckMiddleware, validator=validator, exclude_paths=EXCLUDED)]
    return Starlette(routes=routes, middleware=middleware)


def fastapi_app(handled: list[str], validator: AsyncTokenValidator, *, dependency: bool) -> Any:
    if dependency:
        paycheck = paycheck_fastapi.Paycheck(validator=validator, exclude_paths=EXCLUDED)
        app = FastAPI(dependencies=[Depends(paycheck.require())])
    else:
        app = FastAPI()
        app.add_middleware(PaycheckMiddleware, validator=validator, exclude_paths=EXCLUDED)

    def answer(request: Request) -> dict[str, Any]:
        handled.append(request.url.path)
        return grant_body(getattr(request.state, "paycheck", None))

    @app.api_route("/getInfo", methods=["GET", "OPTIONS"])
    def getInfo(request: Request) -> dict[str, Any]:  # noqa: N802 - the method's name
        return answer(request)

    @app.get("/getStats")
    def getStats(request: Request) -> dict[str, Any]:  # noqa: N802 - the method's name
        return answer(request)

    @app.get("/public")
    def public(request: Request) -> dict[str, Any]:
        return answer(request)

    @app.get("/docs/page")
    def docs_page(request: Request) -> dict[str, Any]:
        return answer(request)

    return app


def asgi_sender(app: Any, client: httpx.AsyncClient) -> Callable[..., Awaitable[Reply]]:
    async def send(method: str, path: str, headers: Headers) -> Reply:
        response = await client.request(method, path, headers=list(headers))
        return Reply(response.status_code, response.headers, response.content)

    return send


# --- WSGI harnesses ----------------------------------------------------------------------


def wsgi_app(handled: list[str], validator: TokenValidator) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path not in {"/getInfo", "/getStats", "/public", "/docs/page"}:
            start_response("404 Not Found", [("content-type", "text/plain")])
            return [b"not found"]
        handled.append(path)
        body = json.dumps(grant_body(environ.get("paycheck.grant"))).encode()
        start_response("200 OK", [("content-type", "application/json")])
        return [body]

    return PaycheckWSGIMiddleware(app, validator=validator, exclude_paths=EXCLUDED)


def flask_app(handled: list[str], validator: TokenValidator) -> Any:
    app = Flask(__name__)
    paycheck_flask.Paycheck(app, validator=validator, exclude_paths=EXCLUDED)

    def answer() -> dict[str, Any]:
        handled.append(request.path)
        grant = paycheck_flask.current_grant
        return grant_body(grant if grant else None)

    app.add_url_rule("/getInfo", "getInfo", answer, methods=["GET", "OPTIONS"])
    app.add_url_rule("/getStats", "getStats", answer)
    app.add_url_rule("/public", "public", answer)
    app.add_url_rule("/docs/page", "docsPage", answer)
    return app


def wsgi_sender(app: Any) -> Callable[..., Awaitable[Reply]]:
    client = WerkzeugClient(app)

    def call(method: str, path: str, headers: Headers) -> Reply:
        # WSGI sees headers as Latin-1 strings, whatever bytes the client sent.
        text = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
        response = client.open(path, method=method, headers=text)
        return Reply(
            response.status_code, httpx.Headers(list(response.headers)), response.get_data()
        )

    async def send(method: str, path: str, headers: Headers) -> Reply:
        # In a thread, as a WSGI server would run it: concurrent requests really overlap.
        return await asyncio.to_thread(call, method, path, headers)

    return send


ADAPTERS = [
    "starlette-middleware",
    "fastapi-middleware",
    "fastapi-dependency",
    "wsgi-middleware",
    "flask-extension",
]


@pytest.fixture(params=ADAPTERS)
async def harness(
    request: pytest.FixtureRequest, payments: FakePaymentServer
) -> AsyncIterator[Harness]:
    """The common routes behind each adapter in turn."""
    name: str = request.param
    handled: list[str] = []
    if name in {"wsgi-middleware", "flask-extension"}:
        validator = payments.sync_validator()
        app = (wsgi_app if name == "wsgi-middleware" else flask_app)(handled, validator)
        yield Harness(name, payments, wsgi_sender(app), handled)
        validator.close()
        return
    async_validator = payments.async_validator()
    if name == "starlette-middleware":
        app = starlette_app(handled, async_validator)
    else:
        app = fastapi_app(handled, async_validator, dependency=name == "fastapi-dependency")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        yield Harness(name, payments, asgi_sender(app, client), handled)
    await async_validator.client.aclose()
