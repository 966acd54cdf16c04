"""Configuration mistakes fail at startup with a ValueError that says what to pass."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette

from paycheck_core import AsyncPaycheckClient, AsyncTokenValidator, PaycheckClient, TokenValidator
from paycheck_integrations import fastapi as paycheck_fastapi
from paycheck_integrations import flask as paycheck_flask
from paycheck_integrations.asgi import PaycheckMiddleware
from paycheck_integrations.wsgi import PaycheckWSGIMiddleware

from .conftest import PAYMENTS_URL, SERVICE, FakePaymentServer


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("204 No Content", [])
    return []


ADAPTERS: dict[str, Callable[..., Any]] = {
    "asgi": lambda **options: PaycheckMiddleware(Starlette(), **options),
    "fastapi": lambda **options: paycheck_fastapi.Paycheck(**options),
    "wsgi": lambda **options: PaycheckWSGIMiddleware(wsgi_app, **options),
    "flask": lambda **options: paycheck_flask.Paycheck(Flask(__name__), **options),
}
ASYNC = {"asgi", "fastapi"}


def validator_for(adapter: str, payments: FakePaymentServer) -> Any:
    return payments.async_validator() if adapter in ASYNC else payments.sync_validator()


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_no_service_names_the_service_option(adapter: str) -> None:
    with pytest.raises(ValueError, match="pass service="):
        ADAPTERS[adapter](server_url=PAYMENTS_URL)


def test_neither_server_url_nor_validator_names_both(adapter: str) -> None:
    with pytest.raises(ValueError, match=r"pass server_url= .* or validator="):
        ADAPTERS[adapter](service=SERVICE)


def test_both_server_url_and_validator_is_refused(
    adapter: str, payments: FakePaymentServer
) -> None:
    with pytest.raises(ValueError, match="not both"):
        ADAPTERS[adapter](server_url=PAYMENTS_URL, validator=validator_for(adapter, payments))


def test_a_service_other_than_the_validators_is_refused(
    adapter: str, payments: FakePaymentServer
) -> None:
    with pytest.raises(ValueError, match="differs from the validator's service"):
        ADAPTERS[adapter](service="Weather", validator=validator_for(adapter, payments))


def test_a_validator_of_the_wrong_kind_names_the_right_one(
    adapter: str, payments: FakePaymentServer
) -> None:
    wrong = payments.sync_validator() if adapter in ASYNC else payments.async_validator()
    expected = "AsyncTokenValidator" if adapter in ASYNC else "TokenValidator"

    with pytest.raises(ValueError, match=f"validator must be a {expected}"):
        ADAPTERS[adapter](validator=wrong)


@pytest.mark.parametrize(
    "patterns", [["docs"], ["/do*cs"], "/docs"], ids=["relative", "star", "str"]
)
def test_a_bad_exclude_path_is_refused(
    adapter: str, payments: FakePaymentServer, patterns: Any
) -> None:
    with pytest.raises(ValueError, match="exclude_paths"):
        ADAPTERS[adapter](validator=validator_for(adapter, payments), exclude_paths=patterns)


@pytest.mark.parametrize("retry_after", [0, -1, 2.5, True])
def test_a_bad_retry_after_is_refused(
    adapter: str, payments: FakePaymentServer, retry_after: Any
) -> None:
    with pytest.raises(ValueError, match="retry_after must be a whole number of seconds"):
        ADAPTERS[adapter](validator=validator_for(adapter, payments), retry_after=retry_after)


TOO_LONG = "m" * 201  # the payment server accepts names of at most 200 characters


def test_a_service_name_too_long_to_check_is_refused(adapter: str) -> None:
    with pytest.raises(ValueError, match="at most 200 characters"):
        ADAPTERS[adapter](service=TOO_LONG, server_url=PAYMENTS_URL)


def test_a_validator_for_a_service_name_too_long_to_check_is_refused(adapter: str) -> None:
    validator = (
        AsyncTokenValidator(AsyncPaycheckClient(PAYMENTS_URL), TOO_LONG)
        if adapter in ASYNC
        else TokenValidator(PaycheckClient(PAYMENTS_URL), TOO_LONG)
    )
    with pytest.raises(ValueError, match="at most 200 characters"):
        ADAPTERS[adapter](validator=validator)


def test_a_service_name_of_200_characters_is_accepted(adapter: str) -> None:
    ADAPTERS[adapter](service="s" * 200, server_url=PAYMENTS_URL)


METHOD_NAMES_TOO_LONG: dict[str, Callable[[FakePaymentServer], Any]] = {
    "asgi methods=": lambda payments: PaycheckMiddleware(
        Starlette(), validator=payments.async_validator(), methods={"/items": TOO_LONG}
    ),
    "wsgi methods=": lambda payments: PaycheckWSGIMiddleware(
        wsgi_app, validator=payments.sync_validator(), methods={"POST /items": TOO_LONG}
    ),
    "fastapi require()": lambda payments: paycheck_fastapi.Paycheck(
        validator=payments.async_validator()
    ).require(TOO_LONG),
    "flask method()": lambda payments: paycheck_flask.Paycheck(
        validator=payments.sync_validator()
    ).method(TOO_LONG),
    "flask required()": lambda payments: paycheck_flask.Paycheck(
        validator=payments.sync_validator()
    ).required(TOO_LONG),
}


@pytest.mark.parametrize("make", METHOD_NAMES_TOO_LONG.values(), ids=METHOD_NAMES_TOO_LONG.keys())
def test_a_method_name_too_long_to_buy_is_refused_at_configuration(
    payments: FakePaymentServer, make: Callable[[FakePaymentServer], Any]
) -> None:
    with pytest.raises(ValueError, match="at most 200 characters"):
        make(payments)


def test_a_server_url_makes_a_validator_for_the_service(adapter: str) -> None:
    if adapter == "flask":
        app = Flask(__name__)
        validator = paycheck_flask.Paycheck(
            app, service=SERVICE, server_url=PAYMENTS_URL
        ).validator(app)
    else:
        validator = ADAPTERS[adapter](service=SERVICE, server_url=PAYMENTS_URL).validator

    assert validator.service == SERVICE
    assert validator.client.base_url == PAYMENTS_URL


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [
        ("asgi", "starlette", "asgi"),
        ("fastapi", "fastapi", "fastapi"),
        ("flask", "flask", "flask"),
    ],
)
def test_a_missing_framework_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, framework: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, framework, None)  # None makes the import fail
    for name in [name for name in sys.modules if name.startswith(f"{framework}.")]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in ("asgi", module):
        monkeypatch.delitem(sys.modules, f"paycheck_integrations.{name}", raising=False)

    with pytest.raises(ImportError, match=rf'pip install "paycheck-suite\[{extra}\]"'):
        importlib.import_module(f"paycheck_integrations.{module}")
