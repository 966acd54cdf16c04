"""POST /pay and POST /payment/info: one charge per bill, tokens, expiry, sandbox outcomes."""

from __future__ import annotations

import asyncio
from collections import Counter

from paycheck_core import tokens
from paycheck_server import db as tables

from .conftest import Api


async def test_paying_answers_with_a_working_token(api: Api) -> None:
    response = await api.pay(await api.artifact())

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Payment succeeded"
    assert body["alreadyPaid"] is False
    assert body["status"] == "paid"
    assert body["paidUntil"] == "2030-01-10"
    assert tokens.is_well_formed(body["token"], prefix=tokens.TOKEN_PREFIX)
    assert (await api.check(body["token"])).status_code == 200


async def test_paying_records_exactly_one_charge_of_the_total(api: Api) -> None:
    await api.pay(await api.artifact(methods=["search"]))

    assert await api.count(tables.charges) == 1
    assert await api.count(tables.charges, tables.charges.c.amount_minor == 2500) == 1


async def test_paying_twice_charges_once_and_gives_a_fresh_working_token(api: Api) -> None:
    artifact = await api.artifact()
    first = (await api.pay(artifact)).json()

    second = (await api.pay(artifact)).json()

    assert second["message"] == "Payment already processed"
    assert second["alreadyPaid"] is True
    assert second["token"] != first["token"]
    assert (await api.check(second["token"])).status_code == 200
    assert (await api.check(first["token"])).status_code == 200
    assert await api.count(tables.charges) == 1


async def test_fifty_concurrent_payments_charge_once_and_leave_two_working_tokens(
    api: Api,
) -> None:
    artifact = await api.artifact()

    answers = await asyncio.gather(*(api.pay(artifact) for _ in range(50)))

    assert [answer.status_code for answer in answers] == [200] * 50
    assert sum(not answer.json()["alreadyPaid"] for answer in answers) == 1
    assert await api.count(tables.charges) == 1
    assert await api.current_tokens() == 1
    issued = [answer.json()["token"] for answer in answers]
    checks = Counter([(await api.check(token)).status_code for token in issued])
    # The current token and the one it replaced, in its grace; the others stopped.
    assert checks == {200: 2, 401: 48}


async def test_a_declined_card_is_a_402_and_charges_nothing(api: Api) -> None:
    artifact = await api.artifact()

    response = await api.post("/pay", {"paymentArtifact": artifact, "card": "4000000000000002"})

    assert response.status_code == 402
    assert response.json() == {"description": "Your card was declined; nothing was charged"}
    assert await api.count(tables.charges) == 0
    assert (await api.pay(artifact)).json()["message"] == "Payment succeeded"


async def test_insufficient_funds_is_a_402(api: Api) -> None:
    artifact = await api.artifact()

    response = await api.post("/pay", {"paymentArtifact": artifact, "card": "4000000000009995"})

    assert response.status_code == 402
    assert "insufficient funds" in response.json()["description"]


async def test_any_other_card_is_approved(api: Api) -> None:
    artifact = await api.artifact()

    response = await api.post("/pay", {"paymentArtifact": artifact, "card": "4242424242424242"})

    assert response.status_code == 200


async def test_an_unknown_artifact_is_a_404(api: Api) -> None:
    response = await api.pay(tokens.generate_artifact())

    assert response.status_code == 404
    assert response.json() == {"description": "Artifact is not found"}


async def test_a_malformed_artifact_is_a_404_like_an_unknown_one(api: Api) -> None:
    response = await api.pay("dsWeWXkdsaaw12")

    assert response.status_code == 404
    assert response.json() == {"description": "Artifact is not found"}


async def test_a_missing_artifact_is_a_400(api: Api) -> None:
    response = await api.post("/pay", {})

    assert response.status_code == 400
    assert response.json() == {"description": "paymentArtifact is required"}


async def test_an_unpaid_bill_expires_after_its_ttl(api: Api) -> None:
    artifact = await api.artifact()
    api.clock.advance(seconds=86400)

    response = await api.pay(artifact)

    assert response.status_code == 404
    assert "expired" in response.json()["description"]
    assert await api.count(tables.charges) == 0


async def test_an_unpaid_bill_can_be_paid_just_before_it_expires(api: Api) -> None:
    artifact = await api.artifact()
    api.clock.advance(seconds=86399)

    assert (await api.pay(artifact)).status_code == 200


async def test_a_paid_bill_does_not_expire(api: Api) -> None:
    artifact = await api.artifact()
    await api.pay(artifact)
    api.clock.advance(days=2)

    assert (await api.pay(artifact)).json()["message"] == "Payment already processed"


async def test_payment_info_describes_the_paid_bill(api: Api) -> None:
    artifact = await api.artifact(methods=["getInfo", "search"])
    await api.pay(artifact)

    response = await api.post("/payment/info", {"paymentArtifact": artifact})

    assert response.status_code == 200
    body = response.json()
    assert body["paidUntil"] == "2030-01-10"
    assert body["dateFrom"] == "2030-01-01"
    assert body["availableService"] == "Online marketplace"
    assert body["methods"] == ["getInfo", "search"]
    assert body["status"] == "paid"


async def test_payment_info_of_an_unpaid_bill_is_a_404_saying_so(api: Api) -> None:
    response = await api.post("/payment/info", {"paymentArtifact": await api.artifact()})

    assert response.status_code == 404
    assert "not paid" in response.json()["description"]


async def test_payment_info_of_an_unknown_artifact_is_a_404(api: Api) -> None:
    response = await api.post("/payment/info", {"paymentArtifact": tokens.generate_artifact()})

    assert response.status_code == 404
