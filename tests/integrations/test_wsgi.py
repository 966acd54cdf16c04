"""The WSGI middleware beyond the shared rules: method names, the grant, closing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from werkzeug.test import Client

from paycheck_integrations.wsgi import GRANT_KEY, PaycheckWSGIMiddleware

from .conftest import PAYMENTS_URL, SERVICE, FakePaymentServer


def grant_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    grant = environ[GRANT_KEY]
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps({"method": grant.method, "paidUntil": str(grant.paid_until)}).encode()]


def call(app: Any, method: str, path: str, token: str) -> Any:
    return Client(app).open(path, method=method, headers={"Authorization": f"Bearer {token}"})


def test_the_grant_is_in_the_environ(payments: FakePaymentServer) -> None:
    app = PaycheckWSGIMiddleware(grant_app, validator=payments.sync_validator())

    response = call(app, "GET", "/getInfo", payments.sell("getInfo"))

    assert response.json == {"method": "getInfo", "paidUntil": "2026-12-31"}


def test_the_methods_mapping_names_a_request(payments: FakePaymentServer) -> None:
    app = PaycheckWSGIMiddleware(
        grant_app,
        validator=payments.sync_validator(),
        methods={"/items/{id}": "getItem", "POST /items": "addItem"},
    )

    got = call(app, "GET", "/items/3", payments.sell("getItem"))
    added = call(app, "POST", "/items", payments.sell("addItem"))

    assert (got.json["method"], added.json["method"]) == ("getItem", "addItem")


def test_close_closes_a_validator_made_from_a_url() -> None:
    with PaycheckWSGIMiddleware(grant_app, service=SERVICE, server_url=PAYMENTS_URL) as app:
        http = app.validator.client._http

    assert http.is_closed


def test_close_leaves_a_given_validator_open(payments: FakePaymentServer) -> None:
    validator = payments.sync_validator()

    PaycheckWSGIMiddleware(grant_app, validator=validator).close()

    assert not validator.client._http.is_closed


PREFLIGHT = {"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}


def test_a_preflight_answer_leaves_without_its_body_however_the_app_sends_it(
    payments: FakePaymentServer,
) -> None:
    closed: list[str] = []

    def lazy_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # start_response called as the body starts, part of the body through write().
        write = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
        write(b"paid ")
        yield b"content"
        closed.append("the generator ran to its end")

    class Body:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __iter__(self) -> Any:
            return iter(self.inner)

        def close(self) -> None:
            closed.append("closed")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return Body(lazy_app(environ, start_response))

    protected = PaycheckWSGIMiddleware(app, validator=payments.sync_validator())

    response = Client(protected).options("/getInfo", headers=PREFLIGHT)

    assert response.status_code == 200
    assert response.get_data() == b""
    assert response.headers["Content-Length"] == "0"
    assert closed == ["closed"]
    assert payments.calls == 0
