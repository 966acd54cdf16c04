"""How failures of the payment server reach the caller: one exception tree, both twins alike.

Transport failures, 5xx answers and bodies that are not the contract's are
PaymentServiceUnavailable (the server could not answer); refusals are APIError subclasses.
"""

from __future__ import annotations

import pickle
from typing import Any

import httpx
import pytest

from paycheck_core import (
    APIError,
    BadRequestError,
    NotFoundError,
    PaycheckError,
    PaymentDeclinedError,
    PaymentServiceUnavailable,
)

NAMES = ["check_token", "create_bill", "list_services", "pay", "payment_info", "reset_token"]

# The fields the seed contract (or, for the catalog, our extension) marks as required.
REQUIRED_FIELDS = [
    ("create_bill", "serviceName"),
    ("create_bill", "dateFrom"),
    ("create_bill", "dateTo"),
    ("create_bill", "totalPrice"),
    ("create_bill", "paymentArtifact"),
    ("pay", "message"),
    ("pay", "token"),
    ("payment_info", "paidUntil"),
    ("payment_info", "availableService"),
    ("payment_info", "methods"),
    ("reset_token", "token"),
    ("check_token", "allowed"),
    ("check_token", "serviceName"),
    ("check_token", "methodName"),
    ("list_services", "services"),
]

WRONG_TYPES = [
    ("create_bill", "methods", "getInfo"),
    ("create_bill", "methods", [{"methodName": "getInfo"}]),
    ("create_bill", "paymentArtifact", 12345),
    ("pay", "token", None),
    ("pay", "alreadyPaid", "false"),
    ("payment_info", "methods", "getInfo"),
    ("payment_info", "methods", [1, 2]),
    ("reset_token", "token", ["pct_"]),
    ("check_token", "allowed", "true"),
    ("check_token", "paidUntil", "next week"),
    ("list_services", "services", {"Online marketplace": []}),
]


def raise_(error: Exception) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout],
    ids=lambda error: error.__name__,
)
@pytest.mark.parametrize("name", NAMES)
async def test_a_timeout_is_payment_service_unavailable(
    twin: Any, server: Any, contract: Any, name: str, error: type[httpx.TimeoutException]
) -> None:
    server.handler = raise_(error("too slow"))

    with pytest.raises(PaymentServiceUnavailable, match="timed out after 5 s") as raised:
        await twin.call(name, *contract.CALLS[name][0])

    assert raised.value.status_code is None
    assert isinstance(raised.value.__cause__, error)


@pytest.mark.parametrize("name", NAMES)
async def test_a_refused_connection_is_payment_service_unavailable(
    twin: Any, server: Any, contract: Any, name: str
) -> None:
    server.handler = raise_(httpx.ConnectError("[Errno 111] Connection refused"))

    with pytest.raises(PaymentServiceUnavailable, match="could not connect") as raised:
        await twin.call(name, *contract.CALLS[name][0])

    assert raised.value.status_code is None
    assert "http://payments.test" in str(raised.value)


@pytest.mark.parametrize(
    "error",
    [
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("connection reset by peer"),
        httpx.DecodingError("invalid gzip"),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_connection_that_breaks_mid_answer_is_payment_service_unavailable(
    twin: Any, server: Any, contract: Any, error: httpx.HTTPError
) -> None:
    server.handler = raise_(error)

    with pytest.raises(PaymentServiceUnavailable, match=type(error).__name__):
        await twin.call("check_token", *contract.CALLS["check_token"][0])


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("name", NAMES)
async def test_a_5xx_is_payment_service_unavailable_with_its_status(
    twin: Any, server: Any, contract: Any, name: str, status: int
) -> None:
    server.handler = lambda request: httpx.Response(status, text="<html>Bad Gateway</html>")

    with pytest.raises(PaymentServiceUnavailable) as raised:
        await twin.call(name, *contract.CALLS[name][0])

    assert raised.value.status_code == status
    assert str(status) in str(raised.value)


async def test_a_5xx_with_the_contract_error_body_carries_its_description(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(500, {"description": "Registry is unreachable"})

    with pytest.raises(PaymentServiceUnavailable, match="Registry is unreachable"):
        await twin.call("create_bill", *contract.CALLS["create_bill"][0])


@pytest.mark.parametrize(
    "content",
    [
        b"<!DOCTYPE html><html><body>Welcome to nginx!</body></html>",
        b"\x00\xff\xfe garbage \x80",
        b'{"token": "pct_abc',
        b"",
        b"null",
        b"[]",
        b'"just a string"',
        b"42",
    ],
    ids=["html", "binary", "truncated-json", "empty", "null", "array", "string", "number"],
)
@pytest.mark.parametrize("name", NAMES)
async def test_a_200_whose_body_is_not_the_contract_is_payment_service_unavailable(
    twin: Any, server: Any, contract: Any, name: str, content: bytes
) -> None:
    server.handler = lambda request: httpx.Response(
        200, content=content, headers={"Content-Type": "application/json"}
    )

    with pytest.raises(PaymentServiceUnavailable, match="not the contract's") as raised:
        await twin.call(name, *contract.CALLS[name][0])

    assert raised.value.status_code == 200
    assert isinstance(raised.value.__cause__, ValueError)


@pytest.mark.parametrize(("name", "field"), REQUIRED_FIELDS)
async def test_a_body_missing_a_required_field_is_payment_service_unavailable(
    twin: Any, server: Any, contract: Any, name: str, field: str
) -> None:
    args, body = contract.CALLS[name]
    server.answer(200, {key: value for key, value in body.items() if key != field})

    with pytest.raises(PaymentServiceUnavailable, match=field):
        await twin.call(name, *args)


@pytest.mark.parametrize(("name", "field", "value"), WRONG_TYPES)
async def test_a_field_of_the_wrong_type_is_payment_service_unavailable(
    twin: Any, server: Any, contract: Any, name: str, field: str, value: object
) -> None:
    args, body = contract.CALLS[name]
    server.answer(200, {**body, field: value})

    with pytest.raises(PaymentServiceUnavailable, match="not the contract's"):
        await twin.call(name, *args)


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (402, PaymentDeclinedError), (404, NotFoundError), (418, APIError)],
)
def test_api_errors_survive_pickling(status: int, error: type[APIError]) -> None:
    original = error("Artifact is not found", status_code=status)

    copy = pickle.loads(pickle.dumps(original))

    assert type(copy) is error
    assert (copy.status_code, copy.description, str(copy)) == (
        status,
        "Artifact is not found",
        f"{status}: Artifact is not found",
    )


def test_payment_service_unavailable_survives_pickling() -> None:
    copy = pickle.loads(pickle.dumps(PaymentServiceUnavailable("down", status_code=503)))

    assert (str(copy), copy.status_code) == ("down", 503)


@pytest.mark.parametrize(
    "error",
    [APIError, BadRequestError, NotFoundError, PaymentDeclinedError, PaymentServiceUnavailable],
)
def test_one_except_clause_catches_every_sdk_error(error: type[PaycheckError]) -> None:
    assert issubclass(error, PaycheckError)
    assert not issubclass(PaymentServiceUnavailable, APIError)
