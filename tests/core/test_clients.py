"""Each method of PaycheckClient and AsyncPaycheckClient: its request, its result, its errors.

Every test runs against both twins (the ``twin`` fixture), which must behave the same.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from paycheck_core import (
    AccessDecision,
    APIError,
    AsyncPaycheckClient,
    BadRequestError,
    Bill,
    Method,
    NotFoundError,
    PaycheckClient,
    Payment,
    PaymentDeclinedError,
    PaymentInfo,
    PaymentServiceUnavailable,
    PricedMethod,
    Service,
    tokens,
)

NAMES = ["check_token", "create_bill", "list_services", "pay", "payment_info", "reset_token"]

# Every error status the seed (and our /pay extension) documents, with the class it raises.
DOCUMENTED_ERRORS = [
    ("create_bill", 400, BadRequestError),
    ("create_bill", 404, NotFoundError),
    ("create_bill", 500, PaymentServiceUnavailable),
    ("pay", 400, BadRequestError),
    ("pay", 402, PaymentDeclinedError),
    ("pay", 404, NotFoundError),
    ("pay", 500, PaymentServiceUnavailable),
    ("payment_info", 400, BadRequestError),
    ("payment_info", 404, NotFoundError),
    ("payment_info", 500, PaymentServiceUnavailable),
    ("reset_token", 400, BadRequestError),
    ("reset_token", 404, NotFoundError),
    ("reset_token", 500, PaymentServiceUnavailable),
    ("check_token", 400, BadRequestError),
    ("check_token", 500, PaymentServiceUnavailable),
    ("list_services", 500, PaymentServiceUnavailable),
]


# --- happy paths -------------------------------------------------------------------------------


async def test_list_services_reads_the_catalog(twin: Any, server: Any, contract: Any) -> None:
    server.answer(200, contract.CATALOG)

    services = await twin.call("list_services")

    assert services == [Service(contract.SERVICE, (Method("getInfo", Decimal("9.50")),), "EUR")]
    assert (server.last.method, server.last.url.path) == ("GET", "/services")


async def test_create_bill_posts_the_period_and_returns_the_bill(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, contract.BILL)

    bill = await twin.call("create_bill", contract.SERVICE, date(2025, 11, 1), date(2025, 11, 13))

    assert bill == Bill(
        service=contract.SERVICE,
        date_from=date(2025, 11, 1),
        date_to=date(2025, 11, 13),
        methods=(
            PricedMethod("getInfo", Decimal("120.20")),
            PricedMethod("buy", Decimal("156.92")),
        ),
        total_price=Decimal("277.12"),
        payment_artifact=contract.ARTIFACT,
    )
    assert (server.last.method, server.last.url.path) == ("POST", "/bill")
    assert server.last_json() == {
        "serviceName": contract.SERVICE,
        "dateFrom": "2025-11-01",
        "dateTo": "2025-11-13",
    }


async def test_create_bill_sends_the_chosen_methods(twin: Any, server: Any, contract: Any) -> None:
    server.answer(200, contract.BILL)

    await twin.call(
        "create_bill", contract.SERVICE, date(2025, 11, 1), date(2025, 11, 13), ["getInfo"]
    )

    assert server.last_json()["methods"] == ["getInfo"]


async def test_pay_returns_the_message_and_the_token(twin: Any, server: Any, contract: Any) -> None:
    server.answer(200, contract.PAYMENT)

    payment = await twin.call("pay", contract.ARTIFACT)

    assert payment == Payment(message="Payment is succeeded", token=contract.TOKEN)
    assert not payment.already_paid
    assert (server.last.method, server.last.url.path) == ("POST", "/pay")
    assert server.last_json() == {"paymentArtifact": contract.ARTIFACT}


async def test_pay_sends_the_card_when_given(twin: Any, server: Any, contract: Any) -> None:
    server.answer(200, contract.PAYMENT)

    await twin.call("pay", contract.ARTIFACT, card="4242424242424242")

    assert server.last_json() == {"paymentArtifact": contract.ARTIFACT, "card": "4242424242424242"}


async def test_paying_a_paid_bill_is_reported_as_already_paid(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, {"message": "Payment already processed", "token": contract.TOKEN})

    payment = await twin.call("pay", contract.ARTIFACT)

    assert payment.already_paid
    assert payment.token == contract.TOKEN


async def test_payment_info_returns_the_service_methods_and_last_day(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, contract.PAYMENT_INFO)

    info = await twin.call("payment_info", contract.ARTIFACT)

    assert info == PaymentInfo(
        paid_until=date(2025, 12, 1), service=contract.SERVICE, methods=("getInfo",)
    )
    assert (server.last.method, server.last.url.path) == ("POST", "/payment/info")
    assert server.last_json() == {"paymentArtifact": contract.ARTIFACT}


async def test_reset_token_returns_the_new_token(twin: Any, server: Any, contract: Any) -> None:
    new_token = tokens.generate_token()
    server.answer(200, {"token": new_token})

    assert await twin.call("reset_token", contract.ARTIFACT) == new_token
    assert (server.last.method, server.last.url.path) == ("POST", "/token/reset")
    assert server.last_json() == {"paymentArtifact": contract.ARTIFACT}


async def test_check_token_allowed_is_a_decision_with_paid_until_and_max_age(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(
        200,
        {**contract.ALLOWED, "paidUntil": "2025-12-01", "message": "Access granted"},
        **{"Cache-Control": "max-age=120"},
    )

    decision = await twin.call("check_token", contract.TOKEN, contract.SERVICE, "getInfo")

    assert decision == AccessDecision(
        allowed=True,
        status=200,
        service=contract.SERVICE,
        method="getInfo",
        paid_until=date(2025, 12, 1),
        reason="Access granted",
        max_age=120,
    )
    assert (server.last.method, server.last.url.path) == ("POST", "/token/check")
    assert server.last_json() == {
        "token": contract.TOKEN,
        "serviceName": contract.SERVICE,
        "methodName": "getInfo",
    }


async def test_check_token_200_with_allowed_false_is_a_403_denial(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, {**contract.ALLOWED, "allowed": False, "message": "Method not bought"})

    decision = await twin.call("check_token", contract.TOKEN, contract.SERVICE, "getInfo")

    assert (decision.allowed, decision.status, decision.reason) == (
        False,
        403,
        "Method not bought",
    )


@pytest.mark.parametrize("status", [401, 403])
async def test_check_token_denial_is_a_result_with_reason_and_max_age(
    twin: Any, server: Any, status: int, contract: Any
) -> None:
    server.answer(
        status, {"description": "Invalid or expired token"}, **{"Cache-Control": "max-age=30"}
    )

    decision = await twin.call("check_token", contract.TOKEN, contract.SERVICE, "getInfo")

    assert decision == AccessDecision(
        allowed=False,
        status=status,
        service=contract.SERVICE,
        method="getInfo",
        reason="Invalid or expired token",
        max_age=30,
    )


async def test_check_token_denial_without_a_json_body_still_denies(
    twin: Any, server: Any, contract: Any
) -> None:
    server.handler = lambda request: httpx.Response(401, text="<html>Unauthorized</html>")

    decision = await twin.call("check_token", contract.TOKEN, contract.SERVICE, "getInfo")

    assert (decision.allowed, decision.status, decision.reason) == (False, 401, "Unauthorized")
    assert decision.max_age is None


# --- documented errors -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "status", "error"), DOCUMENTED_ERRORS)
async def test_a_documented_error_status_raises_its_class_with_the_description(
    twin: Any,
    server: Any,
    name: str,
    status: int,
    error: type[APIError] | type[PaymentServiceUnavailable],
    contract: Any,
) -> None:
    server.answer(status, {"description": f"what went wrong ({status})"})
    args, _ = contract.CALLS[name]

    with pytest.raises(error) as raised:
        await twin.call(name, *args)

    assert raised.value.status_code == status
    assert f"what went wrong ({status})" in str(raised.value)
    if isinstance(raised.value, APIError):
        assert raised.value.description == f"what went wrong ({status})"


@pytest.mark.parametrize("status", [405, 409, 413, 422, 429])
@pytest.mark.parametrize("name", NAMES)
async def test_another_4xx_is_an_api_error_with_status_and_description(
    twin: Any, server: Any, name: str, status: int, contract: Any
) -> None:
    server.answer(status, {"description": "nope"})
    args, _ = contract.CALLS[name]

    with pytest.raises(APIError) as raised:
        await twin.call(name, *args)

    assert type(raised.value) is APIError
    assert (raised.value.status_code, raised.value.description) == (status, "nope")


@pytest.mark.parametrize("name", NAMES)
async def test_a_4xx_without_a_description_falls_back_to_the_reason_phrase(
    twin: Any, server: Any, name: str, contract: Any
) -> None:
    server.handler = lambda request: httpx.Response(404, text="<h1>Not Found</h1>")
    args, _ = contract.CALLS[name]

    with pytest.raises(NotFoundError) as raised:
        await twin.call(name, *args)

    assert raised.value.description == "Not Found"


# --- extensions of the seed contract -------------------------------------------------------------


async def test_the_bill_extension_fields_are_parsed(twin: Any, server: Any, contract: Any) -> None:
    server.answer(
        200,
        {
            **contract.BILL,
            "billId": "b_123",
            "currency": "EUR",
            "expiresAt": "2025-11-02T10:30:00Z",
            "status": "unpaid",
        },
    )

    bill = await twin.call("create_bill", contract.SERVICE, date(2025, 11, 1), date(2025, 11, 13))

    assert (bill.bill_id, bill.currency, bill.status) == ("b_123", "EUR", "unpaid")
    assert bill.expires_at == datetime(2025, 11, 2, 10, 30, tzinfo=UTC)


async def test_the_payment_extension_fields_are_parsed(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(
        200,
        {
            **contract.PAYMENT,
            "billId": "b_123",
            "status": "paid",
            "paidUntil": "2025-11-13",
            "alreadyPaid": True,
        },
    )

    payment = await twin.call("pay", contract.ARTIFACT)

    assert payment == Payment(
        message=contract.PAYMENT["message"],
        token=contract.TOKEN,
        bill_id="b_123",
        status="paid",
        paid_until=date(2025, 11, 13),
        already_paid=True,
    )


async def test_the_payment_info_extension_fields_are_parsed(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(
        200,
        {**contract.PAYMENT_INFO, "dateFrom": "2025-11-01", "billId": "b_123", "status": "paid"},
    )

    info = await twin.call("payment_info", contract.ARTIFACT)

    assert (info.date_from, info.bill_id, info.status) == (date(2025, 11, 1), "b_123", "paid")


async def test_unknown_fields_in_an_answer_are_ignored(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, {**contract.PAYMENT_INFO, "somethingNew": {"nested": [1, 2]}})

    info = await twin.call("payment_info", contract.ARTIFACT)

    assert info.service == contract.SERVICE


async def test_a_bill_without_method_lines_has_none(twin: Any, server: Any, contract: Any) -> None:
    body = {key: value for key, value in contract.BILL.items() if key != "methods"}
    server.answer(200, body)

    bill = await twin.call("create_bill", contract.SERVICE, date(2025, 11, 1), date(2025, 11, 13))

    assert bill.methods == ()


# --- the clients themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("client_class", [PaycheckClient, AsyncPaycheckClient])
@pytest.mark.parametrize("base_url", ["", "payments.test", "ftp://payments.test", None])
def test_a_base_url_that_is_not_http_is_a_value_error(
    client_class: type[PaycheckClient], base_url: Any
) -> None:
    with pytest.raises(ValueError, match=r"http:// or https://"):
        client_class(base_url)


@pytest.mark.parametrize("client_class", [PaycheckClient, AsyncPaycheckClient])
@pytest.mark.parametrize("timeout", [0, -1.5])
def test_a_timeout_that_is_not_positive_is_a_value_error(
    client_class: type[PaycheckClient], timeout: float
) -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        client_class("http://payments.test", timeout=timeout)


async def test_extra_headers_are_sent_with_every_request(server: Any, contract: Any) -> None:
    server.answer(200, {"token": contract.TOKEN})
    transport = httpx.MockTransport(server)
    with PaycheckClient(
        "http://payments.test/", transport=transport, headers={"X-Trace": "abc"}
    ) as client:
        client.reset_token(contract.ARTIFACT)
    async with AsyncPaycheckClient(
        "http://payments.test/", transport=transport, headers={"X-Trace": "abc"}
    ) as async_client:
        await async_client.reset_token(contract.ARTIFACT)

    assert [request.headers["X-Trace"] for request in server.requests] == ["abc", "abc"]
    assert all(request.headers["Accept"] == "application/json" for request in server.requests)
    assert all(str(r.url) == "http://payments.test/token/reset" for r in server.requests)


async def test_a_base_url_with_a_path_prefix_keeps_it(server: Any, contract: Any) -> None:
    server.answer(200, {"token": contract.TOKEN})
    with PaycheckClient(
        "http://gateway.test/payments/", transport=httpx.MockTransport(server)
    ) as client:
        client.reset_token(contract.ARTIFACT)

    assert str(server.last.url) == "http://gateway.test/payments/token/reset"


async def test_a_redirect_is_not_followed(twin: Any, server: Any, contract: Any) -> None:
    server.handler = lambda request: httpx.Response(
        301, headers={"Location": "https://elsewhere.test/token/reset"}
    )

    with pytest.raises(PaymentServiceUnavailable) as raised:
        await twin.call("reset_token", contract.ARTIFACT)

    assert raised.value.status_code == 301
    assert len(server.requests) == 1


def test_the_repr_of_a_client_names_its_server() -> None:
    client = PaycheckClient("http://payments.test/", transport=httpx.MockTransport(lambda r: r))
    assert repr(client) == "PaycheckClient('http://payments.test')"
    client.close()


def test_the_repr_of_results_hides_secrets(contract: Any) -> None:
    bill = Bill(
        contract.SERVICE,
        date.today(),
        date.today() + timedelta(days=1),
        (),
        Decimal(0),
        contract.ARTIFACT,
    )
    payment = Payment("ok", contract.TOKEN)

    assert contract.ARTIFACT not in repr(bill)
    assert contract.TOKEN not in repr(payment)
