"""``/token/check`` tells a service nothing about another service's tokens.

The service is compared before anything that depends on the token's state: a token that is
not for the asking service gets one 403, byte for byte the same (status, headers, body),
whether it is active, not yet active, expired, in its grace, replaced, revoked or unpaid. The
token's own service still gets the answer that its state calls for.

Every test runs on SQLite and PostgreSQL, through the fast read and the engine's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from paycheck_core import tokens
from paycheck_server import db as tables
from paycheck_server.db import create_engine
from paycheck_server.store import Store

from .conftest import Api
from .read_paths import READ_PATHS, assert_read_through, read_through

SERVICE = "Weather"
# (service, method) pairs that are not Weather's, whatever the token bought.
OTHER_SERVICES = [
    ("Online marketplace", "placeOrder"),
    ("Online marketplace", "getForecast"),
    ("weather", "getForecast"),
    ("Weather ", "getForecast"),
    ("Not in the catalog", "anything"),
]
THE_ANSWER = b'{"description":"The token does not give access to this service"}'


@pytest.fixture(params=READ_PATHS)
async def service_api(api: Api, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The app, its checks reading token states by each path in turn."""
    await read_through(api, request.param)
    yield api
    assert_read_through(api, request.param)


async def paid(api: Api, **kwargs: object) -> tuple[str, str]:
    kwargs.setdefault("date_from", api.clock.now().date())
    bill = await api.bill(service=SERVICE, **kwargs)
    assert bill.status_code == 200, bill.text
    artifact = bill.json()["paymentArtifact"]
    response = await api.pay(artifact)
    assert response.status_code == 200, response.text
    return artifact, response.json()["token"]


async def tokens_in_every_state(api: Api, database_url: str) -> dict[str, tuple[str, int]]:
    """A Weather token in each state, with the status Weather gets for ``getForecast``."""
    today = api.clock.now().date()
    _, expired = await paid(api, date_to=today, methods=["getForecast"])
    artifact, superseded = await paid(api, methods=["getForecast"])
    await api.reset(artifact)
    artifact, paid_again = await paid(api, methods=["getForecast"])
    await api.pay(artifact)
    _, revoked = await paid(api, methods=["getForecast"])
    _, unpaid = await paid(api, methods=["getForecast"])
    api.clock.advance(days=1)  # the first token's last day and the graces are over
    today = api.clock.now().date()

    _, active = await paid(api, methods=["getForecast"])
    _, everything = await paid(api)
    _, other_method = await paid(api, methods=["getHistory"])
    _, tomorrow = await paid(api, date_from=today + timedelta(days=1))
    _, next_year = await paid(
        api, date_from=today + timedelta(days=300), date_to=today + timedelta(days=301)
    )
    artifact, in_reset_grace = await paid(api, methods=["getForecast"])
    await api.reset(artifact)
    artifact, in_pay_grace = await paid(api, methods=["getForecast"])
    await api.pay(artifact)
    api.clock.advance(seconds=100)

    other = Store(create_engine(database_url), clock=api.clock)
    try:
        assert await other.revoke(tokens.digest(revoked)) == "revoked"
        # No route un-pays a bill; the rules know the state, so the test makes it.
        bill_of_unpaid = (
            select(tables.tokens.c.bill_id)
            .where(tables.tokens.c.digest == tokens.digest(unpaid))
            .scalar_subquery()
        )
        async with other.engine.begin() as connection:
            await connection.execute(
                update(tables.bills)
                .where(tables.bills.c.id == bill_of_unpaid)
                .values(status="unpaid")
            )
    finally:
        await other.aclose()

    return {
        "active": (active, 200),
        "bought every method": (everything, 200),
        "in its grace after a reset": (in_reset_grace, 200),
        "in its grace after a second pay": (in_pay_grace, 200),
        "another method bought": (other_method, 403),
        "not yet active": (tomorrow, 401),
        "active in 300 days": (next_year, 401),
        "expired": (expired, 401),
        "superseded by a reset": (superseded, 401),
        "superseded by a second pay": (paid_again, 401),
        "revoked": (revoked, 401),
        "unpaid": (unpaid, 401),
    }


def exact(response: httpx.Response) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    return response.status_code, tuple(response.headers.raw), response.content


async def test_another_services_token_gets_the_same_bytes_whatever_its_state(
    service_api: Api, database_url: str
) -> None:
    api = service_api
    states = await tokens_in_every_state(api, database_url)

    answers = {}
    for state, (token, status) in states.items():
        own = await api.check(token, service=SERVICE, method="getForecast")
        assert own.status_code == status, f"{state}: {own.text}"
        for service, method in OTHER_SERVICES:
            answers[state, service, method] = exact(await api.check(token, service, method))

    assert set(answers.values()) == {
        (
            403,
            (
                (b"cache-control", b"private, max-age=60"),
                (b"content-length", str(len(THE_ANSWER)).encode()),
                (b"content-type", b"application/json"),
            ),
            THE_ANSWER,
        )
    }
