"""100 parallel requests on one bill, across two ``paycheck-server`` processes (issue 7).

On SQLite (one file, WAL) and on PostgreSQL, two processes share the database and the
requests alternate between them:

- 100 parallel ``/pay`` of one artifact: one charge, the bill paid once, one token current,
  exactly one in grace, and the 98 others stopped (each payment after the first replaces the
  current token as a reset does: it enters its grace, and the one in grace stops);
- 100 parallel ``/token/reset``: one token current, exactly one in grace (the one current
  before the last reset), and the 99 others stopped at once, as the reset rule says.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PARALLEL = 100
SERVICE, METHOD = "Weather", "getForecast"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def servers(
    request: pytest.FixtureRequest, live_server_factory: Callable[..., LiveServer]
) -> list[LiveServer]:
    """Two server processes on one database."""
    if request.param == "postgres":
        first = live_server_factory(database_url=request.getfixturevalue("postgres_url"))
    else:
        first = live_server_factory()
    return [first, live_server_factory(database_url=first.database_url)]


async def rows(database_url: str, sql: str) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list(await connection.execute(text(sql)))
    finally:
        await engine.dispose()


async def post_all(
    servers: list[LiveServer], path: str, bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    """POST every body at once, alternating between the servers."""
    limits = httpx.Limits(max_connections=PARALLEL)
    clients = [httpx.AsyncClient(base_url=s.url, timeout=60, limits=limits) for s in servers]
    try:
        return await asyncio.gather(
            *(
                clients[index % len(clients)].post(path, json=body)
                for index, body in enumerate(bodies)
            )
        )
    finally:
        for client in clients:
            await client.aclose()


async def paid_bill(server: LiveServer, *, pay: bool) -> str:
    day = datetime.now(UTC).date().isoformat()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        bill = await client.post(
            "/bill", json={"serviceName": SERVICE, "dateFrom": day, "dateTo": day}
        )
        artifact: str = bill.json()["paymentArtifact"]
        if pay:
            assert (await client.post("/pay", json={"paymentArtifact": artifact})).is_success
    return artifact


async def statuses(servers: list[LiveServer], found: list[str]) -> Counter[int]:
    bodies = [{"token": token, "serviceName": SERVICE, "methodName": METHOD} for token in found]
    return Counter(answer.status_code for answer in await post_all(servers, "/token/check", bodies))


async def test_100_parallel_payments_charge_once_and_leave_two_working_tokens(
    servers: list[LiveServer],
) -> None:
    artifact = await paid_bill(servers[0], pay=False)

    answers = await post_all(servers, "/pay", [{"paymentArtifact": artifact}] * PARALLEL)

    assert Counter(answer.status_code for answer in answers) == {200: PARALLEL}
    bodies = [answer.json() for answer in answers]
    assert sum(not body["alreadyPaid"] for body in bodies) == 1
    assert len({body["token"] for body in bodies}) == PARALLEL
    database = servers[0].database_url
    assert len(await rows(database, "SELECT * FROM charges")) == 1
    assert await rows(database, "SELECT status, count(*) FROM bills GROUP BY status") == [
        ("paid", 1)
    ]
    assert len(await rows(database, "SELECT id FROM tokens WHERE expires_at IS NULL")) == 1
    assert len(await rows(database, "SELECT * FROM charge_attempts")) == 0
    # The current token and the one it replaced work; every other one has stopped.
    assert await statuses(servers, [body["token"] for body in bodies]) == {
        200: 2,
        401: PARALLEL - 2,
    }


async def test_100_parallel_resets_leave_one_current_token_and_one_in_grace(
    servers: list[LiveServer],
) -> None:
    artifact = await paid_bill(servers[0], pay=True)

    answers = await post_all(servers, "/token/reset", [{"paymentArtifact": artifact}] * PARALLEL)

    assert Counter(answer.status_code for answer in answers) == {200: PARALLEL}
    database = servers[0].database_url
    assert len(await rows(database, "SELECT id FROM tokens WHERE expires_at IS NULL")) == 1
    assert len(await rows(database, "SELECT id FROM tokens")) == PARALLEL + 1
    assert len(await rows(database, "SELECT * FROM charges")) == 1
    reset_tokens = [answer.json()["token"] for answer in answers]
    # The current token and the one it replaced work; every other reset token has stopped.
    assert await statuses(servers, reset_tokens) == {200: 2, 401: PARALLEL - 2}
