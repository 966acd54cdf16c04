"""Races against real processes: two ``paycheck-server`` processes on one database.

50 parallel ``/pay`` on one artifact charge once and leave two working tokens (the current one
and the one in its grace); 50 parallel ``/token/reset`` leave exactly one current token. On
SQLite (one file, WAL) and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PARALLEL = 50


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_servers(
    request: pytest.FixtureRequest, live_server_factory: Callable[..., LiveServer]
) -> list[LiveServer]:
    """Two server processes sharing one database (SQLite file or fresh PostgreSQL)."""
    if request.param == "postgres":
        first = live_server_factory(database_url=request.getfixturevalue("postgres_url"))
    else:
        first = live_server_factory()
    return [first, live_server_factory(database_url=first.database_url)]


def scalar(database_url: str, sql: str) -> int:
    async def query() -> int:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return int(await connection.scalar(text(sql)) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(query())


def post_many(servers: list[LiveServer], path: str, body: dict[str, str]) -> list[httpx.Response]:
    def post(index: int) -> httpx.Response:
        url = servers[index % len(servers)].url + path
        return httpx.post(url, json=body, timeout=60)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(post, range(PARALLEL)))


def new_artifact(server: LiveServer) -> str:
    day = datetime.now(UTC).date().isoformat()
    bill = httpx.post(
        f"{server.url}/bill",
        json={"serviceName": "Weather", "dateFrom": day, "dateTo": day},
        timeout=30,
    )
    artifact: str = bill.json()["paymentArtifact"]
    return artifact


def check(server: LiveServer, token: str) -> int:
    answer = httpx.post(
        f"{server.url}/token/check",
        json={"token": token, "serviceName": "Weather", "methodName": "getForecast"},
        timeout=30,
    )
    return answer.status_code


def test_fifty_parallel_payments_charge_once_and_leave_two_working_tokens(
    two_servers: list[LiveServer],
) -> None:
    artifact = new_artifact(two_servers[0])

    answers = post_many(two_servers, "/pay", {"paymentArtifact": artifact})

    assert [answer.status_code for answer in answers] == [200] * PARALLEL
    assert sum(answer.json()["message"] == "Payment succeeded" for answer in answers) == 1
    url = two_servers[0].database_url
    assert scalar(url, "SELECT count(*) FROM charges") == 1
    assert scalar(url, "SELECT count(*) FROM tokens WHERE expires_at IS NULL") == 1
    statuses = Counter(check(two_servers[1], answer.json()["token"]) for answer in answers)
    assert statuses == {200: 2, 401: PARALLEL - 2}


def test_fifty_parallel_resets_leave_exactly_one_current_token(
    two_servers: list[LiveServer],
) -> None:
    artifact = new_artifact(two_servers[0])
    httpx.post(f"{two_servers[0].url}/pay", json={"paymentArtifact": artifact}, timeout=30)

    answers = post_many(two_servers, "/token/reset", {"paymentArtifact": artifact})

    assert [answer.status_code for answer in answers] == [200] * PARALLEL
    url = two_servers[0].database_url
    assert scalar(url, "SELECT count(*) FROM tokens WHERE expires_at IS NULL") == 1
    assert scalar(url, "SELECT count(*) FROM tokens") == PARALLEL + 1
