"""A server killed with SIGKILL in the middle of a bill+pay load loses nothing (issue 7).

Eight clients bill and pay in a loop against one ``paycheck-server`` process. When they have
seen :data:`PAID_PER_ROUND` more payments succeed, the process is killed with SIGKILL while
requests are in flight, and started again on the same database; this happens
:data:`CRASHES` times. Then, reading the database directly:

- every bill a client saw paid is paid, and a reset of its artifact gives a working token;
- every payment that was in flight when the server died (no answer) can be retried: the
  retry answers 200 with a working token;
- no bill was charged twice, a bill has a charge exactly when it is paid, and no charge
  attempt is left pending.

The figures (requests, payments seen, payments in doubt) are printed for
``docs/reliability.md`` (``pytest -s -k crash``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from paycheck_core import tokens

from .conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CLIENTS = 8
PAID_PER_ROUND = 40
CRASHES = 2
SERVICE, METHOD = "Online marketplace", "getInfo"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, live_server_factory: Callable[..., LiveServer]
) -> LiveServer:
    """One server process, on a SQLite file or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return live_server_factory(database_url=request.getfixturevalue("postgres_url"))
    return live_server_factory()


@dataclass
class Ledger:
    """What the clients saw."""

    requests: int = 0
    billed: set[str] = field(default_factory=set)
    paid: dict[str, str] = field(default_factory=dict)  # artifact -> token
    in_doubt: set[str] = field(default_factory=set)  # /pay sent, no answer


async def client_loop(url: str, ledger: Ledger, dead: asyncio.Event) -> None:
    day = datetime.now(UTC).date().isoformat()
    bill = {"serviceName": SERVICE, "methods": [METHOD], "dateFrom": day, "dateTo": day}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not dead.is_set():
            try:
                ledger.requests += 1
                billed = await http.post("/bill", json=bill)
            except httpx.HTTPError:
                return
            assert billed.status_code == 200, billed.text
            artifact = billed.json()["paymentArtifact"]
            ledger.billed.add(artifact)
            try:
                ledger.requests += 1
                payment = await http.post("/pay", json={"paymentArtifact": artifact})
            except httpx.HTTPError:
                ledger.in_doubt.add(artifact)
                return
            assert payment.status_code == 200, payment.text
            ledger.paid[artifact] = payment.json()["token"]


async def load_until_killed(server: LiveServer, ledger: Ledger) -> None:
    dead = asyncio.Event()
    target = len(ledger.paid) + PAID_PER_ROUND
    clients = [asyncio.create_task(client_loop(server.url, ledger, dead)) for _ in range(CLIENTS)]
    while len(ledger.paid) < target:
        assert not all(client.done() for client in clients), server.log_text()
        await asyncio.sleep(0.005)
    await asyncio.to_thread(server.kill)
    dead.set()
    await asyncio.gather(*clients)


async def rows(database_url: str, sql: str, **values: Any) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list(await connection.execute(text(sql), values))
    finally:
        await engine.dispose()


async def works(http: httpx.AsyncClient, token: str) -> bool:
    body = {"token": token, "serviceName": SERVICE, "methodName": METHOD}
    return (await http.post("/token/check", json=body)).status_code == 200


async def test_a_server_killed_mid_load_loses_no_payment_and_charges_no_bill_twice(
    server: LiveServer,
) -> None:
    ledger = Ledger()
    for _ in range(CRASHES):
        await load_until_killed(server, ledger)
        server.start()

    database = server.database_url
    statuses = dict(await rows(database, "SELECT artifact_digest, status FROM bills"))
    assert {statuses.get(tokens.digest(artifact)) for artifact in ledger.paid} == {"paid"}
    doubt = ledger.in_doubt - ledger.paid.keys()
    committed = sum(statuses.get(tokens.digest(artifact)) == "paid" for artifact in doubt)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for artifact in ledger.paid:
            reset = await http.post("/token/reset", json={"paymentArtifact": artifact})
            assert reset.status_code == 200, reset.text
            assert await works(http, reset.json()["token"])
        for artifact in doubt:
            retried = await http.post("/pay", json={"paymentArtifact": artifact})
            assert retried.status_code == 200, retried.text
            assert await works(http, retried.json()["token"])
    twice = "SELECT bill_id FROM charges GROUP BY bill_id HAVING count(*) > 1"
    assert await rows(database, twice) == []
    mismatched = (
        "SELECT bills.id FROM bills LEFT JOIN charges ON charges.bill_id = bills.id "
        "WHERE (bills.status = 'paid') <> (charges.id IS NOT NULL)"
    )
    assert await rows(database, mismatched) == []
    # Every charge attempt cut off by a kill was resolved by the retry of its payment.
    assert await rows(database, "SELECT * FROM charge_attempts WHERE status = 'pending'") == []
    paid = await rows(database, "SELECT count(*) FROM bills WHERE status = 'paid'")
    charges = await rows(database, "SELECT count(*) FROM charges")
    assert paid == charges
    log = server.log_text()
    assert not any(secret in log for secret in [*ledger.billed, *ledger.paid.values()])
    print(  # the figures docs/reliability.md records
        f"\ncrash[{database.split(':', 1)[0]}]: {CRASHES} SIGKILLs, {ledger.requests} requests, "
        f"{len(ledger.billed)} bills, {len(ledger.paid)} payments seen, "
        f"{len(doubt)} payments in flight when killed ({committed} of them committed), "
        f"{charges[0][0]} charges after retrying those"
    )
