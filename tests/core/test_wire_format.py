"""The wire format both clients speak: camelCase JSON, ISO dates, 2-decimal money, headers."""

from __future__ import annotations

import json
import pickle
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycheck_core import PaymentServiceUnavailable, _wire

NAMES = ["check_token", "create_bill", "list_services", "pay", "payment_info", "reset_token"]
CAMEL_CASE_REQUESTS = {
    "create_bill": {"serviceName", "dateFrom", "dateTo"},
    "pay": {"paymentArtifact"},
    "payment_info": {"paymentArtifact"},
    "reset_token": {"paymentArtifact"},
    "check_token": {"token", "serviceName", "methodName"},
}


@pytest.mark.parametrize("name", sorted(CAMEL_CASE_REQUESTS))
async def test_request_bodies_are_camel_case_json(
    twin: Any, server: Any, contract: Any, name: str
) -> None:
    args, body = contract.CALLS[name]
    server.answer(200, body)

    await twin.call(name, *args)

    assert server.last.headers["Content-Type"] == "application/json"
    assert set(server.last_json()) == CAMEL_CASE_REQUESTS[name]


async def test_list_services_sends_no_body(twin: Any, server: Any, contract: Any) -> None:
    server.answer(200, contract.CATALOG)

    await twin.call("list_services")

    assert server.last.content == b""


async def test_dates_are_sent_as_iso_calendar_dates(twin: Any, server: Any, contract: Any) -> None:
    server.answer(200, contract.BILL)

    await twin.call("create_bill", contract.SERVICE, date(2026, 1, 2), date(2026, 2, 3))

    assert server.last_json()["dateFrom"] == "2026-01-02"
    assert server.last_json()["dateTo"] == "2026-02-03"


@pytest.mark.parametrize(
    "day",
    [datetime(2026, 1, 2, 10, 30), "2026-01-02", None],
    ids=["datetime", "string", "none"],
)
async def test_a_period_bound_that_is_not_a_date_is_a_type_error_before_any_request(
    twin: Any, server: Any, contract: Any, day: Any
) -> None:
    with pytest.raises(TypeError, match=r"date_from must be a datetime\.date"):
        await twin.call("create_bill", contract.SERVICE, day, date(2026, 2, 3))

    assert server.requests == []


async def test_methods_given_as_one_string_is_a_type_error(
    twin: Any, server: Any, contract: Any
) -> None:
    with pytest.raises(TypeError, match="list of method names"):
        await twin.call("create_bill", contract.SERVICE, date.today(), date.today(), "getInfo")

    assert server.requests == []


async def test_an_empty_methods_list_is_sent_as_given(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, contract.BILL)

    await twin.call("create_bill", contract.SERVICE, date.today(), date.today(), [])

    assert server.last_json()["methods"] == []


@pytest.mark.parametrize(("name", "method"), [("create_bill", "POST"), ("pay", "POST")])
async def test_an_idempotency_key_is_sent_as_the_idempotency_key_header(
    twin: Any, server: Any, contract: Any, name: str, method: str
) -> None:
    args, body = contract.CALLS[name]
    server.answer(200, body)
    key = str(uuid.uuid4())

    await twin.call(name, *args, idempotency_key=key)

    assert server.last.method == method
    assert server.last.headers["Idempotency-Key"] == key


@pytest.mark.parametrize("name", ["create_bill", "pay"])
async def test_bills_and_payments_send_a_new_random_uuid_as_their_key_by_default(
    twin: Any, server: Any, contract: Any, name: str
) -> None:
    args, body = contract.CALLS[name]
    server.answer(200, body)

    await twin.call(name, *args)
    await twin.call(name, *args)

    keys = [request.headers["Idempotency-Key"] for request in server.requests]
    assert [uuid.UUID(key).version for key in keys] == [4, 4]
    assert keys[0] != keys[1]
    assert all(str(uuid.UUID(key)) == key for key in keys)


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"create_bill", "pay"}))
async def test_other_calls_send_no_idempotency_key(
    twin: Any, server: Any, contract: Any, name: str
) -> None:
    args, body = contract.CALLS[name]
    server.answer(200, body)

    await twin.call(name, *args)

    assert "Idempotency-Key" not in server.last.headers


@pytest.mark.parametrize(
    "key", ["", "k" * 15, "k" * 256, "uuid with spaces in it", "ключ-идемпотентности"]
)
@pytest.mark.parametrize("name", ["create_bill", "pay"])
async def test_an_idempotency_key_must_be_16_to_255_visible_ascii_characters(
    twin: Any, server: Any, contract: Any, name: str, key: str
) -> None:
    args, _ = contract.CALLS[name]

    with pytest.raises(ValueError, match="16 to 255 visible ASCII characters"):
        await twin.call(name, *args, idempotency_key=key)

    assert server.requests == []


@pytest.mark.parametrize("key", ["invoice-00000042", "a" * 40, "0" * 39 + "1"])
@pytest.mark.parametrize("name", ["create_bill", "pay"])
async def test_a_guessable_idempotency_key_is_refused_before_any_request(
    twin: Any, server: Any, contract: Any, name: str, key: str
) -> None:
    args, _ = contract.CALLS[name]

    with pytest.raises(ValueError, match="use a random UUID") as refused:
        await twin.call(name, *args, idempotency_key=key)

    assert key not in str(refused.value)
    assert server.requests == []


@pytest.mark.parametrize("name", ["create_bill", "pay"])
@pytest.mark.parametrize("failure", ["no answer", "a 503"])
async def test_an_unanswered_bill_or_payment_names_the_key_to_retry_with(
    twin: Any, server: Any, contract: Any, name: str, failure: str
) -> None:
    args, _ = contract.CALLS[name]

    def fail(request: httpx.Request) -> httpx.Response:
        if failure == "no answer":
            raise httpx.ReadTimeout("the server did not answer", request=request)
        return httpx.Response(503, json={"description": "the provider did not confirm"})

    server.handler = fail

    with pytest.raises(PaymentServiceUnavailable) as failed:
        await twin.call(name, *args)

    key = server.last.headers["Idempotency-Key"]
    assert failed.value.idempotency_key == key
    assert key not in str(failed.value)
    assert key not in repr(failed.value)
    assert pickle.loads(pickle.dumps(failed.value)).idempotency_key == key


# --- money -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "money"),
    [
        (120.2, "120.20"),
        (277.12, "277.12"),
        (100, "100.00"),
        (0.30000000000000004, "0.30"),
        (1e3, "1000.00"),
        (0, "0.00"),
    ],
)
async def test_money_is_read_as_a_decimal_with_two_places(
    twin: Any, server: Any, contract: Any, wire: float, money: str
) -> None:
    server.answer(200, {**contract.BILL, "totalPrice": wire})

    bill = await twin.call("create_bill", *contract.CALLS["create_bill"][0])

    assert bill.total_price == Decimal(money)
    assert str(bill.total_price) == money


async def test_money_in_the_catalog_is_read_as_a_decimal(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, contract.CATALOG)

    [service] = await twin.call("list_services")

    assert str(service.methods[0].price_per_day) == "9.50"


@pytest.mark.parametrize(
    "wire", ["abc", True, None, [1], {"amount": 1}, "NaN", "Infinity"], ids=repr
)
async def test_money_that_is_not_a_finite_number_is_not_the_contract(
    twin: Any, server: Any, contract: Any, wire: object
) -> None:
    server.answer(200, {**contract.BILL, "totalPrice": wire})

    with pytest.raises(PaymentServiceUnavailable, match="totalPrice"):
        await twin.call("create_bill", *contract.CALLS["create_bill"][0])


@pytest.mark.parametrize(
    ("amount", "wire"),
    [("277.12", "277.12"), ("120.2", "120.2"), ("0.10", "0.1"), ("5", "5.0"), ("1.005", "1.0")],
)
def test_money_is_written_as_a_json_number_with_at_most_two_decimals(
    amount: str, wire: str
) -> None:
    assert json.dumps(_wire.money_to_wire(Decimal(amount))) == wire


@given(cents=st.integers(min_value=0, max_value=10**13))
def test_money_survives_a_trip_over_the_wire(cents: int) -> None:
    amount = Decimal(cents).scaleb(-2)
    wire = json.loads(json.dumps(_wire.money_to_wire(amount)))

    assert _wire.money_from_wire(wire, "price") == amount


# --- dates in answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2025-12-01", "2025-12-01T00:00:00Z"], ids=["date", "date-time"])
async def test_a_date_is_read_from_an_iso_date(
    twin: Any, server: Any, contract: Any, value: str
) -> None:
    server.answer(200, {**contract.PAYMENT_INFO, "paidUntil": value})

    info = await twin.call("payment_info", contract.ARTIFACT)

    assert info.paid_until == date(2025, 12, 1)


@pytest.mark.parametrize(
    "value", ["01.12.2025", "2025-13-01", "2025-12-01garbage", "20251201", "", 20251201, None]
)
async def test_a_date_that_is_not_iso_is_not_the_contract(
    twin: Any, server: Any, contract: Any, value: object
) -> None:
    server.answer(200, {**contract.PAYMENT_INFO, "paidUntil": value})

    with pytest.raises(PaymentServiceUnavailable, match="paidUntil"):
        await twin.call("payment_info", contract.ARTIFACT)


# --- Cache-Control on /token/check -------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("max-age=120", 120),
        ("private, max-age=60", 60),
        ("max-age=60, must-revalidate", 60),
        ('max-age="45"', 45),
        ("MAX-AGE=30", 30),
        ("s-maxage=600, max-age=20", 20),
        ("max-age=0", 0),
        ("no-store", 0),
        ("no-cache", 0),
        ("max-age=300, no-store", 0),
        ("private", None),
        ("max-age=soon", None),
        ("s-maxage=600", None),
    ],
)
@pytest.mark.parametrize("status", [200, 401, 403])
async def test_the_cache_control_max_age_is_reported_with_the_decision(
    twin: Any, server: Any, contract: Any, header: str, seconds: int | None, status: int
) -> None:
    server.answer(status, contract.ALLOWED, **{"Cache-Control": header})

    decision = await twin.call("check_token", *contract.CALLS["check_token"][0])

    assert decision.max_age == seconds


async def test_no_cache_control_header_means_no_max_age(
    twin: Any, server: Any, contract: Any
) -> None:
    server.answer(200, contract.ALLOWED)

    decision = await twin.call("check_token", *contract.CALLS["check_token"][0])

    assert decision.max_age is None
