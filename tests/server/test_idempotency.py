"""Idempotency-Key on POST /bill and POST /pay: replays, conflicts, and no stored secret."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from paycheck_server import db as tables

from .conftest import TODAY, Api


def new_key() -> str:
    return str(uuid.uuid4())


async def test_the_same_key_and_body_replay_the_same_bill(api: Api) -> None:
    key = new_key()
    first = await api.bill(**{"Idempotency-Key": key})

    again = await api.bill(**{"Idempotency-Key": key})

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await api.count(tables.bills) == 1


async def test_the_same_key_with_another_body_is_a_400(api: Api) -> None:
    key = new_key()
    await api.bill(**{"Idempotency-Key": key})

    response = await api.bill(service="Weather", **{"Idempotency-Key": key})

    assert response.status_code == 400
    assert "different request body" in response.json()["description"]


async def test_a_replayed_payment_charges_once_and_returns_the_same_token(api: Api) -> None:
    artifact = await api.artifact()
    key = new_key()
    first = await api.pay(artifact, **{"Idempotency-Key": key})

    again = await api.pay(artifact, **{"Idempotency-Key": key})

    assert again.json() == first.json()
    assert again.json()["message"] == "Payment succeeded"
    assert await api.count(tables.charges) == 1
    assert await api.count(tables.tokens) == 1
    assert (await api.check(again.json()["token"])).status_code == 200


async def test_concurrent_requests_with_one_key_make_one_bill(api: Api) -> None:
    key = new_key()

    answers = await asyncio.gather(*(api.bill(**{"Idempotency-Key": key}) for _ in range(10)))

    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["paymentArtifact"] for answer in answers}) == 1
    assert await api.count(tables.bills) == 1


async def test_a_key_is_remembered_for_24_hours_then_forgotten(api: Api) -> None:
    key = new_key()
    tomorrow = {"date_from": TODAY + timedelta(days=1), "Idempotency-Key": key}
    first = (await api.bill(**tomorrow)).json()
    api.clock.advance(seconds=86399)
    assert (await api.bill(**tomorrow)).json() == first

    api.clock.advance(seconds=1)
    later = (await api.bill(**tomorrow)).json()

    assert later["billId"] != first["billId"]


async def test_the_stored_records_hold_the_key_only_as_its_digest_and_no_secret(
    api: Api,
) -> None:
    key = new_key()
    artifact = (await api.bill(**{"Idempotency-Key": key})).json()["paymentArtifact"]
    token = (await api.pay(artifact, **{"Idempotency-Key": key})).json()["token"]

    async with api.app.state.paycheck.store.engine.connect() as connection:
        rows = list(await connection.execute(select(tables.idempotency_keys)))

    assert sorted(row.endpoint for row in rows) == ["bill", "pay"]
    for row in rows:
        assert row.key_digest == hashlib.sha256(key.encode()).hexdigest()
        for secret in (key, artifact, token):
            assert secret not in str(tuple(row))


GUESSABLE_KEYS = {
    "an invoice number": "invoice-00000042",
    "one letter": "a" * 40,
    "a counter": "0" * 39 + "1",
    "a time-based UUID": "c232ab00-9414-11ec-b3c8-9f6bdeced846",
}


@pytest.mark.parametrize("key", GUESSABLE_KEYS.values(), ids=GUESSABLE_KEYS.keys())
@pytest.mark.parametrize("endpoint", ["/bill", "/pay"])
async def test_a_guessable_key_is_a_400_saying_what_a_key_must_be(
    api: Api, endpoint: str, key: str
) -> None:
    artifact = await api.artifact()
    before = (await api.count(tables.bills), await api.count(tables.idempotency_keys))

    if endpoint == "/bill":
        response = await api.bill(**{"Idempotency-Key": key})
    else:
        response = await api.pay(artifact, **{"Idempotency-Key": key})

    assert response.status_code == 400
    description = response.json()["description"]
    assert description.startswith("Idempotency-Key ")
    assert "use a random UUID (uuid4) or 32 random hex or base62 characters" in description
    assert key not in description
    assert (await api.count(tables.bills), await api.count(tables.idempotency_keys)) == before
    assert await api.count(tables.charges) == 0
