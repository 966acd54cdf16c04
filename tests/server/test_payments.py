"""The sandbox provider keeps a provider's promise: one charge per idempotency key."""

from __future__ import annotations

import pytest

from paycheck_server import ChargeDeclined, SandboxProvider

DECLINED = "4000000000000002"


async def charge(provider: SandboxProvider, key: str, card: str | None = None) -> object:
    return await provider.charge(
        bill_id="bill_1", amount_minor=1200, currency="USD", card=card, idempotency_key=key
    )


async def test_a_repeated_key_gets_the_same_charge_back() -> None:
    provider = SandboxProvider()

    first = await charge(provider, "bill_1/1")

    assert await charge(provider, "bill_1/1") == first
    assert await charge(provider, "bill_1/2") != first


async def test_a_key_charged_before_is_not_declined_by_another_card() -> None:
    provider = SandboxProvider()
    first = await charge(provider, "bill_1/1")

    assert await charge(provider, "bill_1/1", card=DECLINED) == first


async def test_a_declined_key_charged_nothing_and_may_be_tried_again() -> None:
    provider = SandboxProvider()
    with pytest.raises(ChargeDeclined):
        await charge(provider, "bill_1/1", card=DECLINED)

    approved = await charge(provider, "bill_1/1")

    assert await charge(provider, "bill_1/1") == approved


async def test_only_the_last_keys_are_remembered() -> None:
    provider = SandboxProvider(remembered=2)
    first = await charge(provider, "bill_1/1")
    await charge(provider, "bill_2/1")
    await charge(provider, "bill_3/1")

    assert await charge(provider, "bill_1/1") != first


def test_remembering_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="remembered must be at least 1"):
        SandboxProvider(remembered=0)
