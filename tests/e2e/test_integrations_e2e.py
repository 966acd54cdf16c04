"""Each adapter in front of a real ``paycheck-server`` process.

bill -> pay -> call the protected service -> reset -> the old token still works in the grace
window -> revoke it -> 401, and the new token still works.

The validators are made with ``ttl=0``: every request asks the payment server, so a revoked
token is refused on the very next request instead of when its cache entry expires (300 s by
default). The ``live_server`` fixture (``.url``, ``.cli(*args)``) is the payment server's, from
``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.test import Client as WerkzeugClient

from paycheck_core import AsyncTokenValidator, PaycheckClient, TokenValidator
from paycheck_integrations import fastapi as paycheck_fastapi
from paycheck_integrations import flask as paycheck_flask
from paycheck_integrations.asgi import PaycheckMiddleware
from paycheck_integrations.wsgi import GRANT_KEY, PaycheckWSGIMiddleware

pytestmark = pytest.mark.e2e

SERVICE = "Online marketplace"
METHOD = "getInfo"

Call = Callable[[str], Any]  # token -> (status, body)


@pytest.fixture
def live_url(request: pytest.FixtureRequest) -> str:
    try:
        server = request.getfixturevalue("live_server")
    except pytest.FixtureLookupError:
        pytest.skip("the live_server fixture of tests/e2e/conftest.py (issue 3) is not there")
    return str(server.url)


@pytest.fixture
def live_cli(request: pytest.FixtureRequest, live_url: str) -> Callable[..., Any]:
    return request.getfixturevalue("live_server").cli  # type: ignore[no-any-return]


def starlette_service(url: str) -> tuple[Any, Callable[[], Any]]:
    async def get_info(request: Request) -> JSONResponse:
        return JSONResponse({"method": request.state.paycheck.method})

    validator = AsyncTokenValidator(url, SERVICE, ttl=0)
    app = Starlette(routes=[Route("/getInfo", get_info, name="getInfo")])
    app.add_middleware(PaycheckMiddleware, validator=validator)
    return app, validator.aclose


def fastapi_service(url: str) -> tuple[Any, Callable[[], Any]]:
    validator = AsyncTokenValidator(url, SERVICE, ttl=0)
    paycheck = paycheck_fastapi.Paycheck(validator=validator)
    app = FastAPI()

    @app.get("/getInfo")
    async def getInfo(grant: Any = Depends(paycheck.require())) -> Any:  # noqa: N802, B008 - the method's name; FastAPI's idiom
        return {"method": grant.method}

    return app, validator.aclose


def wsgi_service(url: str) -> tuple[Any, Callable[[], Any]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("content-type", "application/json")])
        return [json.dumps({"method": environ[GRANT_KEY].method}).encode()]

    validator = TokenValidator(url, SERVICE, ttl=0)
    return PaycheckWSGIMiddleware(app, validator=validator), validator.close


def flask_service(url: str) -> tuple[Any, Callable[[], Any]]:
    validator = TokenValidator(url, SERVICE, ttl=0)
    app = Flask(__name__)
    paycheck_flask.Paycheck(app, validator=validator)
    app.add_url_rule("/getInfo", "getInfo", lambda: {"method": paycheck_flask.current_grant.method})
    return app, validator.close


SERVICES = {
    "starlette-middleware": starlette_service,
    "fastapi-dependency": fastapi_service,
    "wsgi-middleware": wsgi_service,
    "flask-extension": flask_service,
}


@pytest.fixture(params=list(SERVICES))
async def call(request: pytest.FixtureRequest, live_url: str) -> Any:
    """``await call(token)``: GET /getInfo of the protected service; (status, body)."""
    app, close = SERVICES[request.param](live_url)
    if request.param in {"wsgi-middleware", "flask-extension"}:
        client = WerkzeugClient(app)

        async def call_wsgi(token: str) -> tuple[int, Any]:
            response = client.get("/getInfo", headers={"Authorization": f"Bearer {token}"})
            return response.status_code, json.loads(response.get_data())

        yield call_wsgi
        close()
        return
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:

        async def call_asgi(token: str) -> tuple[int, Any]:
            response = await http.get("/getInfo", headers={"Authorization": f"Bearer {token}"})
            return response.status_code, response.json()

        yield call_asgi
    await close()


@pytest.fixture
def payments(live_url: str) -> Iterator[PaycheckClient]:
    with PaycheckClient(live_url) as client:
        yield client


async def test_a_paid_token_works_until_it_is_revoked(
    call: Any, payments: PaycheckClient, live_cli: Callable[..., Any]
) -> None:
    today = datetime.now(UTC).date()
    bill = payments.create_bill(SERVICE, today, today, [METHOD])
    token = payments.pay(bill.payment_artifact).token

    assert await call(token) == (200, {"method": METHOD})

    new_token = payments.reset_token(bill.payment_artifact)
    assert await call(new_token) == (200, {"method": METHOD})
    assert await call(token) == (200, {"method": METHOD})  # the reset's grace window

    live_cli("revoke", "--token", token)
    status, body = await call(token)
    assert status == 401
    assert list(body) == ["description"]
    assert await call(new_token) == (200, {"method": METHOD})
