"""No plaintext secret in the database, the server's logs or an error message (issue 7).

A full flow against a real ``paycheck-server`` logging at ``debug`` — bill (with an
``Idempotency-Key``), pay, pay again, reset, read, check through a protected service — plus
requests that put secrets where they do not belong (a token as the artifact, an artifact as
the token, truncated ones, an oversized body holding a token). Afterwards no token, artifact
or key appears in any row of any table, in anything the server wrote, in any error body, or
in the protected service's log; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from paycheck_core import AsyncTokenValidator, PaycheckClient
from paycheck_server import db as tables

from .conftest import LiveServer

pytestmark = pytest.mark.e2e

SERVICE = "Online marketplace"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, live_server_factory: Callable[..., LiveServer]
) -> LiveServer:
    database = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return live_server_factory(database_url=database, log_level="debug")


async def every_row(database_url: str) -> str:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            parts = []
            for table in tables.metadata.sorted_tables:
                parts += [repr(tuple(row)) for row in await connection.execute(select(table))]
            return "\n".join(parts)
    finally:
        await engine.dispose()


def test_no_secret_is_stored_logged_or_echoed(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    today = datetime.now(UTC).date()
    key = "5c2a9d7e-1f3b-4e6a-8c0d-2b4f6a8c0e1f"
    with PaycheckClient(server.url) as client:
        bill = client.create_bill(SERVICE, today, today, ["getInfo"], idempotency_key=key)
        artifact = bill.payment_artifact
        first = client.pay(artifact, idempotency_key=key).token
        second = client.pay(artifact).token
        third = client.reset_token(artifact)
        client.payment_info(artifact)
    secrets = [artifact, key, first, second, third]

    async def through_a_service() -> None:
        async with AsyncTokenValidator(server.url, SERVICE, ttl=0) as validator:
            for token in (third, first[:-1], artifact):
                await validator.validate(token, "getInfo")

    asyncio.run(through_a_service())
    with httpx.Client(base_url=server.url, timeout=30) as http:
        errors = [
            http.post("/pay", json={"paymentArtifact": third}),
            http.post("/token/reset", json={"paymentArtifact": artifact[:-3]}),
            http.post("/payment/info", json={"paymentArtifact": [artifact]}),
            http.post("/token/check", json={"token": artifact, "serviceName": SERVICE}),
            http.post("/token/check", json={"token": third, "serviceName": 7, "methodName": ""}),
            http.post("/bill", content=b'{"x": "' + third.encode() * 2000 + b'"}'),
        ]
    server.stop()  # every log line is written

    assert [answer.status_code for answer in errors] == [404, 404, 400, 400, 400, 413]
    stored = asyncio.run(every_row(server.database_url))
    log = server.log_text()
    assert "POST /pay" in log  # the log is the server's, at debug level
    for secret in secrets:
        assert secret not in stored
        assert secret not in log
        assert secret not in caplog.text
        for answer in errors:
            assert secret[4:24] not in answer.text
