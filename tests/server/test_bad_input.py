"""Bad input, row by row: each row gets its status and leaves the database as it was.

Before every row the database holds a paid bill for ``getInfo`` of "Online marketplace" (with
its current token), an unpaid bill, and a paid "Weather" bill. The row's request is sent
through the app's real HTTP surface; then the answer's status and ``{"description"}`` are
checked, and every row of every table is compared with the copy taken before the request
(but for what a row says it records: a declined payment leaves its declined attempt).

The middleware side of bad input (two ``Authorization`` headers, ``Bearer`` with no token, a
10 KB token, non-ASCII bytes, any case of ``bearer``) is specified for every adapter in
``tests/integrations/test_conformance.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from paycheck_core import tokens
from paycheck_server import db as tables

from .conftest import TODAY, Api

MARKET = "Online marketplace"
TOMORROW = TODAY + timedelta(days=1)
MAX_DAYS = 366  # Settings.max_period_days by default


@dataclass(frozen=True)
class Secrets:
    """What a row may send: real secrets of the bills in the database."""

    paid_artifact: str
    token: str
    unpaid_artifact: str
    weather_token: str


Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(api: Api) -> Snapshot:
    """Every row of every table, in primary-key order."""
    rows: Snapshot = {}
    async with api.app.state.paycheck.store.engine.connect() as connection:
        for table in tables.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in await connection.execute(query)]
    return rows


@pytest.fixture
async def secrets(api: Api) -> Secrets:
    paid_artifact = await api.artifact(methods=["getInfo"])
    token_response = await api.pay(paid_artifact)
    assert token_response.status_code == 200, token_response.text
    return Secrets(
        paid_artifact=paid_artifact,
        token=token_response.json()["token"],
        unpaid_artifact=await api.artifact(),
        weather_token=await api.token(service="Weather", methods=["getForecast"]),
    )


Body = Any  # a JSON value, raw bytes, or a function of the Secrets giving either


@dataclass(frozen=True)
class Row:
    """A request and the status (and words of the description) it must get."""

    path: str
    body: Body
    status: int
    says: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    records: str | None = None
    """The one table the answer may change."""


def bill(**changes: Any) -> dict[str, Any]:
    """A valid ``/bill`` body with ``changes`` (a value of ``...`` removes the field)."""
    body: dict[str, Any] = {
        "serviceName": MARKET,
        "methods": ["getInfo"],
        "dateFrom": TODAY.isoformat(),
        "dateTo": TOMORROW.isoformat(),
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not ...}


def check(token: Callable[[Secrets], Any], **changes: Any) -> Callable[[Secrets], Any]:
    """A ``/token/check`` body for ``getInfo`` of the marketplace, with ``changes``."""

    def body(secrets: Secrets) -> dict[str, Any]:
        values = {"token": token(secrets), "serviceName": MARKET, "methodName": "getInfo"}
        values.update(changes)
        return {name: value for name, value in values.items() if value is not ...}

    return body


def artifact_body(artifact: Callable[[Secrets], Any]) -> Callable[[Secrets], Any]:
    """A body of the artifact endpoints; an artifact of ``...`` leaves the field out."""

    def body(secrets: Secrets) -> dict[str, Any]:
        value = artifact(secrets)
        return {} if value is ... else {"paymentArtifact": value}

    return body


def flip_last(secret: str) -> str:
    """``secret`` with its last checksum character changed: well-formed but for the checksum."""
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


def one_mb() -> str:
    return "x" * 1_048_576


ARTIFACT_ENDPOINTS = ["/pay", "/payment/info", "/token/reset"]

ROWS: dict[str, Row] = {
    # --- the body itself -----------------------------------------------------------------------
    "bill: malformed JSON": Row("/bill", b'{"serviceName": ', 400, "not valid JSON"),
    "bill: not UTF-8": Row("/bill", b"\xff\xfe{}", 400, "not valid JSON"),
    "bill: empty body": Row("/bill", b"", 400, "JSON request body is required"),
    "bill: a JSON array": Row("/bill", b"[]", 400, "must be a JSON object"),
    "bill: JSON null": Row("/bill", b"null", 400, "must be a JSON object"),
    "bill: a form, not JSON": Row(
        "/bill",
        b"serviceName=Weather",
        400,
        "must be a JSON object",
        {"content-type": "application/x-www-form-urlencoded"},
    ),
    "bill: a 1 MB string": Row("/bill", bill(serviceName=one_mb()), 413, "larger than 65536"),
    "bill: a 10 MB body": Row(
        "/bill", b'{"serviceName": "' + b"x" * 10_485_760 + b'"}', 413, "larger than 65536"
    ),
    "check: a 10 MB body": Row(
        "/token/check", b'{"token": "' + b"x" * 10_485_760 + b'"}', 413, "larger than 65536"
    ),
    # --- /bill: types, missing and empty fields ------------------------------------------------
    "bill: serviceName is a number": Row("/bill", bill(serviceName=42), 400, "serviceName"),
    "bill: serviceName is null": Row("/bill", bill(serviceName=None), 400, "serviceName"),
    "bill: dateFrom is a number": Row("/bill", bill(dateFrom=20300101), 400, "YYYY-MM-DD"),
    "bill: dateFrom is a date-time": Row(
        "/bill",
        bill(dateFrom="2030-01-01T00:00:00"),
        400,
        "dateFrom: Input should be a valid date written",
    ),
    "bill: dateTo is not a date": Row("/bill", bill(dateTo="next week"), 400, "dateTo"),
    "bill: dateTo is February 30": Row("/bill", bill(dateTo="2030-02-30"), 400, "dateTo"),
    "bill: methods is a string": Row("/bill", bill(methods="getInfo"), 400, "methods"),
    "bill: methods holds numbers": Row("/bill", bill(methods=[1, 2]), 400, "methods"),
    "bill: serviceName missing": Row(
        "/bill", bill(serviceName=...), 400, "serviceName is required"
    ),
    "bill: dateFrom missing": Row("/bill", bill(dateFrom=...), 400, "dateFrom is required"),
    "bill: dateTo missing": Row("/bill", bill(dateTo=...), 400, "dateTo is required"),
    "bill: an empty serviceName": Row("/bill", bill(serviceName=""), 400, "serviceName"),
    "bill: an empty method name": Row("/bill", bill(methods=[""]), 400, "methods"),
    "bill: an empty dateFrom": Row("/bill", bill(dateFrom=""), 400, "dateFrom"),
    "bill: a 10 KB service name": Row("/bill", bill(serviceName="s" * 10_240), 400, "serviceName"),
    "bill: 101 methods": Row("/bill", bill(methods=["getInfo"] * 101), 400, "methods"),
    "bill: an empty methods list": Row("/bill", bill(methods=[]), 400, "must not be empty"),
    # --- /bill: names the catalog does not have ------------------------------------------------
    "bill: an unknown service": Row("/bill", bill(serviceName="Nowhere"), 404, "'Nowhere'"),
    "bill: an unknown method": Row("/bill", bill(methods=["getInfo", "nope"]), 404, "'nope'"),
    "bill: a private method": Row(
        "/bill", bill(serviceName="Weather", methods=["recalibrateSensors"]), 404, "not found"
    ),
    "bill: a unicode service name": Row(
        "/bill", bill(serviceName="Онлайн-маркет 🛒"), 404, "Онлайн-маркет 🛒"
    ),
    "bill: control characters in the service name": Row(
        "/bill", bill(serviceName="Online\x00market\nplace\u202e"), 404, r"\x00"
    ),
    "bill: control characters in a method name": Row(
        "/bill", bill(methods=["get\tInfo\x1b[31m"]), 404, r"\x1b"
    ),
    "bill: a lone surrogate in the service name": Row(
        "/bill",
        b'{"serviceName": "\\ud800", "dateFrom": "2030-01-01", "dateTo": "2030-01-02"}',
        400,
        "serviceName",
    ),
    # --- /bill: periods ------------------------------------------------------------------------
    "bill: dateTo before dateFrom": Row(
        "/bill", bill(dateFrom=TOMORROW.isoformat(), dateTo=TODAY.isoformat()), 400, "dateTo"
    ),
    "bill: dateFrom in the past": Row(
        "/bill", bill(dateFrom=(TODAY - timedelta(days=1)).isoformat()), 400, "in the past"
    ),
    "bill: a period one day too long": Row(
        "/bill",
        bill(dateTo=(TODAY + timedelta(days=MAX_DAYS)).isoformat()),
        400,
        f"at most {MAX_DAYS} days",
    ),
    "bill: until year 9999": Row("/bill", bill(dateTo="9999-12-30"), 400, "at most"),
    "bill: the last day of year 9999": Row(
        "/bill", bill(dateFrom="9999-12-31", dateTo="9999-12-31"), 400, "dateTo"
    ),
    "bill: year 10000": Row("/bill", bill(dateTo="10000-01-01"), 400, "dateTo"),
    "bill: a bad Idempotency-Key": Row(
        "/bill", bill(), 400, "Idempotency-Key", {"Idempotency-Key": "short"}
    ),
    # --- artifacts: garbage, of the other kind, truncated, of another bill -----------------------
    **{
        f"{path[1:]}: {name}": Row(path, artifact_body(make), status, says)
        for path in ARTIFACT_ENDPOINTS
        for name, make, status, says in [
            ("artifact missing", lambda s: ..., 400, "paymentArtifact is required"),
            ("artifact is a number", lambda s: 42, 400, "paymentArtifact"),
            ("artifact is empty", lambda s: "", 400, "paymentArtifact"),
            ("artifact is garbage", lambda s: "hello", 404, "not found"),
            ("a token instead of the artifact", lambda s: s.token, 404, "not found"),
            ("a truncated artifact", lambda s: s.paid_artifact[:-1], 404, "not found"),
            ("a wrong checksum", lambda s: flip_last(s.paid_artifact), 404, "not found"),
            ("a 10 KB artifact", lambda s: "pca_" + "a" * 10_240, 400, "paymentArtifact"),
            (
                "an unknown well-formed artifact",
                lambda s: tokens.generate_artifact(),
                404,
                "not found",
            ),
        ]
    },
    "payment/info: the artifact of an unpaid bill": Row(
        "/payment/info", artifact_body(lambda s: s.unpaid_artifact), 404, "not paid"
    ),
    "token/reset: the artifact of an unpaid bill": Row(
        "/token/reset", artifact_body(lambda s: s.unpaid_artifact), 404, "not paid"
    ),
    "pay: a card number too long": Row(
        "/pay",
        lambda s: {"paymentArtifact": s.unpaid_artifact, "card": "4" * 41},
        400,
        "card",
    ),
    "pay: a declined card": Row(
        "/pay",
        lambda s: {"paymentArtifact": s.unpaid_artifact, "card": "4000000000000002"},
        402,
        "declined",
        records="charge_attempts",
    ),
    # --- /token/check --------------------------------------------------------------------------
    "check: token missing": Row("/token/check", check(lambda s: ...), 400, "token is required"),
    "check: serviceName missing": Row(
        "/token/check", check(lambda s: s.token, serviceName=...), 400, "serviceName is required"
    ),
    "check: methodName missing": Row(
        "/token/check", check(lambda s: s.token, methodName=...), 400, "methodName is required"
    ),
    "check: token is a number": Row("/token/check", check(lambda s: 7), 400, "token"),
    "check: an empty token": Row("/token/check", check(lambda s: ""), 400, "token"),
    "check: an empty serviceName": Row(
        "/token/check", check(lambda s: s.token, serviceName=""), 400, "serviceName"
    ),
    "check: a 10 KB token": Row(
        "/token/check", check(lambda s: "pct_" + "a" * 10_240), 400, "token"
    ),
    "check: a garbage token": Row("/token/check", check(lambda s: "garbage"), 401, "Invalid"),
    "check: an artifact instead of the token": Row(
        "/token/check", check(lambda s: s.paid_artifact), 401, "Invalid"
    ),
    "check: a truncated token": Row("/token/check", check(lambda s: s.token[:-1]), 401, "Invalid"),
    "check: a wrong checksum": Row(
        "/token/check", check(lambda s: flip_last(s.token)), 401, "Invalid"
    ),
    "check: the token of another service's bill": Row(
        "/token/check", check(lambda s: s.weather_token), 403, "this service"
    ),
    "check: a method the bill did not buy": Row(
        "/token/check", check(lambda s: s.token, methodName="search"), 403, "'search'"
    ),
    "check: unknown fields are ignored": Row(
        "/token/check", check(lambda s: s.token, extra=[1, {"x": None}]), 200
    ),
    "check: control characters in the method name": Row(
        "/token/check", check(lambda s: s.token, methodName="get\x00Info"), 403, r"\x00"
    ),
}


async def send(api: Api, row: Row, secrets: Secrets) -> Any:
    body = row.body(secrets) if callable(row.body) else row.body
    if isinstance(body, bytes):
        headers = {"content-type": "application/json", **row.headers}
        return await api.http.post(row.path, content=body, headers=headers)
    return await api.http.post(row.path, json=body, headers=row.headers)


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
async def test_bad_input_gets_its_status_and_changes_nothing(
    api: Api, secrets: Secrets, row: Row
) -> None:
    before = await snapshot(api)

    response = await send(api, row, secrets)

    assert response.status_code == row.status, response.text
    body = response.json()
    if row.status == 200:
        assert body["allowed"] is True
    else:
        assert list(body) == ["description"]
        assert row.says in body["description"]
    after = await snapshot(api)
    if row.records is not None:
        del before[row.records], after[row.records]
    assert after == before


async def test_a_10_mb_body_is_refused_before_it_is_read(api: Api) -> None:
    sent = 0

    async def ten_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"serviceName": "'
        for _ in range(160):
            sent += 1
            yield b"x" * 65_536
        yield b'"}'

    before = await snapshot(api)

    response = await api.http.post(
        "/bill", content=ten_megabytes(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert sent <= 2  # 64 KB is the limit: the third chunk is never asked for
    assert await snapshot(api) == before


async def test_a_method_listed_twice_is_billed_once(api: Api) -> None:
    response = await api.post("/bill", bill(methods=["getInfo", "getInfo"]))

    assert response.status_code == 200
    assert [line["methodName"] for line in response.json()["methods"]] == ["getInfo"]
    assert await api.count(tables.bill_lines) == 1
