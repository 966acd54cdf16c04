"""``/pay`` under races, provider failures and crashes: the provider charges a bill if and only
if the database records that charge.

Every test drives the server through HTTP with a provider double that keeps the books
(:mod:`.provider_double`) and ends by comparing what the provider took with the rows of
``charges``. A race holds the first payment inside the provider, starts the second, waits until
the second has gone as far as it can (answered, reached the provider, or waits for a lock the
first holds), then lets the first go on.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from paycheck_server import db as tables

from .conftest import Api
from .provider_double import Moment, ProviderDouble

# Only a guard against a hang: every wait below ends on an observed event long before.
STUCK_TIMEOUT = 30


@pytest.fixture
def provider() -> ProviderDouble:
    """The app's provider: the double, so that tests can hold it, fail it and read its books."""
    return ProviderDouble()


def key_header(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Idempotency-Key": key}


class LockWaits:
    """Counts the app's database connections that wait for a lock another one holds.

    SQLite: a ``BEGIN IMMEDIATE`` sent and not yet returned (another connection holds the write
    lock). PostgreSQL: backends whose ``wait_event_type`` is ``Lock``.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sent = 0
        self._returned = 0
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "before_cursor_execute", self._send)
            event.listen(engine.sync_engine, "after_cursor_execute", self._return)

    def _send(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._sent += statement.startswith("BEGIN IMMEDIATE")

    def _return(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._returned += statement.startswith("BEGIN IMMEDIATE")

    async def count(self) -> int:
        if self._engine.dialect.name == "sqlite":
            return self._sent - self._returned
        query = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        async with self._engine.connect() as connection:
            return int(await connection.scalar(query) or 0)


async def until_stuck_or_done(
    task: asyncio.Task[Any], provider: ProviderDouble, waits: LockWaits, *, calls: int
) -> None:
    """Wait until ``task`` has answered, made provider call ``calls``, or waits for a lock."""
    async with asyncio.timeout(STUCK_TIMEOUT):
        # Polled: PostgreSQL shows a lock wait only in pg_stat_activity.
        while not (task.done() or provider.entered >= calls or await waits.count()):  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def charges_rows(api: Api) -> int:
    return await api.count(tables.charges)


async def pending_charges(api: Api) -> list[Any]:
    async with api.app.state.paycheck.store.engine.connect() as connection:
        return list(await connection.execute(select(tables.charge_attempts)))


# --- races ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Race:
    """Two payments at once: of one artifact or two, with one key, two keys or none."""

    artifacts: Literal["one", "two"]
    keys: Literal["one", "two", "none"]
    second: Literal["refused", "already paid", "replayed", "charged"]

    @property
    def charges(self) -> int:
        return 2 if self.second == "charged" else 1


RACES = {
    "one key, two artifacts": Race("two", "one", "refused"),
    "one artifact, two keys": Race("one", "two", "already paid"),
    "one artifact, one key": Race("one", "one", "replayed"),
    "one artifact, no key": Race("one", "none", "already paid"),
    "two artifacts, two keys": Race("two", "two", "charged"),
}


@pytest.mark.parametrize("held", ["before", "after"])
@pytest.mark.parametrize("race", RACES.values(), ids=RACES.keys())
async def test_two_payments_at_once_charge_exactly_what_the_database_records(
    api: Api, provider: ProviderDouble, race: Race, held: Moment
) -> None:
    first_artifact = await api.artifact()
    second_artifact = first_artifact if race.artifacts == "one" else await api.artifact()
    first_key = None if race.keys == "none" else str(uuid.uuid4())
    second_key = first_key if race.keys != "two" else str(uuid.uuid4())
    waits = LockWaits(api.app.state.paycheck.store.engine)
    provider.hold = held

    first = asyncio.create_task(api.pay(first_artifact, **key_header(first_key)))
    await provider.wait_entered(1)
    second = asyncio.create_task(api.pay(second_artifact, **key_header(second_key)))
    await until_stuck_or_done(second, provider, waits, calls=2)
    provider.release()
    answers: list[httpx.Response] = list(await asyncio.gather(first, second))

    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["alreadyPaid"] is False
    if race.second == "refused":
        assert answers[1].status_code == 400
        assert "different request body" in answers[1].json()["description"]
    else:
        assert answers[1].status_code == 200, answers[1].text
    if race.second == "replayed":
        assert answers[1].json() == answers[0].json()
    if race.second == "already paid":
        assert answers[1].json()["alreadyPaid"] is True
    assert provider.taken == await charges_rows(api) == race.charges
    assert await pending_charges(api) == []


# --- failures and crashes -------------------------------------------------------------------


@pytest.mark.parametrize("failed", ["before", "after"])
@pytest.mark.parametrize("retry_key", ["same key", "no key"])
async def test_a_payment_whose_provider_call_failed_is_charged_once_when_retried(
    api: Api, provider: ProviderDouble, failed: Moment, retry_key: str
) -> None:
    artifact = await api.artifact()
    key = str(uuid.uuid4())
    provider.failures = [failed]

    first = await api.pay(artifact, **key_header(key))

    assert first.status_code == 503
    assert "retry" in first.json()["description"]
    assert [row.status for row in await pending_charges(api)] == ["pending"]
    retried = await api.pay(artifact, **key_header(key if retry_key == "same key" else None))
    assert retried.status_code == 200, retried.text
    assert (await api.check(retried.json()["token"])).status_code == 200
    assert provider.taken == await charges_rows(api) == 1
    assert await pending_charges(api) == []


@pytest.mark.parametrize("died", ["before", "after"])
@pytest.mark.parametrize("retried", ["at once", "after the bill's deadline"])
@pytest.mark.parametrize("retry_key", ["same key", "no key"])
async def test_a_payment_cut_off_during_the_charge_is_charged_once_when_retried(
    api: Api, provider: ProviderDouble, died: Moment, retried: str, retry_key: str
) -> None:
    artifact = await api.artifact()
    key = str(uuid.uuid4())
    provider.hold = died
    payment = asyncio.create_task(api.pay(artifact, **key_header(key)))
    await provider.wait_entered(1)

    # The request dies where it stands, as when the server process is killed: its
    # transaction is never committed.
    payment.cancel()
    with pytest.raises(asyncio.CancelledError):
        await payment
    provider.hold = None
    if retried != "at once":
        api.clock.advance(days=2)
    retry = await api.pay(artifact, **key_header(key if retry_key == "same key" else None))

    assert retry.status_code == 200, retry.text
    assert (await api.check(retry.json()["token"])).status_code == 200
    assert provider.taken == await charges_rows(api) == 1
    assert await pending_charges(api) == []


async def test_a_declined_payment_is_retried_under_a_new_provider_key(
    api: Api, provider: ProviderDouble
) -> None:
    artifact = await api.artifact()
    declined = await api.post("/pay", {"paymentArtifact": artifact, "card": "4000000000000002"})
    assert declined.status_code == 402

    paid = await api.pay(artifact)

    assert paid.status_code == 200
    # One key per attempt: a real provider answers a key it declined with the same decline.
    assert len(set(provider.keys)) == 2
    assert all(key is not None and key.startswith(paid.json()["billId"]) for key in provider.keys)
    assert provider.taken == await charges_rows(api) == 1


async def test_an_expired_bill_with_no_charge_under_way_is_not_charged(
    api: Api, provider: ProviderDouble
) -> None:
    artifact = await api.artifact()
    api.clock.advance(days=2)

    response = await api.pay(artifact)

    assert response.status_code == 404
    assert provider.entered == 0
    assert await pending_charges(api) == []
