"""Settings that change the rules: the reset grace period, the bill TTL, the longest period."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paycheck_server import Settings

from .conftest import TODAY, Api


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A one-minute grace, a one-hour bill TTL and periods of at most ten days."""
    return Settings(
        database_url=database_url,
        reset_grace_seconds=60,
        bill_ttl_seconds=3600,
        max_period_days=10,
    )


async def test_the_grace_period_is_configurable(api: Api) -> None:
    artifact = await api.artifact()
    old = (await api.pay(artifact)).json()["token"]
    await api.reset(artifact)

    api.clock.advance(seconds=60)

    assert (await api.check(old)).status_code == 401


async def test_the_bill_ttl_is_configurable(api: Api) -> None:
    artifact = await api.artifact()

    api.clock.advance(seconds=3600)

    assert (await api.pay(artifact)).status_code == 404


async def test_the_longest_period_is_configurable(api: Api) -> None:
    assert (await api.bill(date_to=TODAY + timedelta(days=9))).status_code == 200
    assert (await api.bill(date_to=TODAY + timedelta(days=10))).status_code == 400
