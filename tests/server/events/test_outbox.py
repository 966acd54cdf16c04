"""The outbox: an event exists exactly when its change committed, and holds no secret."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text

from paycheck_core import tokens
from paycheck_server import db as tables

from ..conftest import Api
from .conftest import Served

# Makes the next token insert fail: the change that deactivated the previous token (and
# appended its event) is then rolled back, after the event was written in its transaction.
REFUSE_NEW_TOKENS = {
    "sqlite": [
        "CREATE TRIGGER refuse_tokens BEFORE INSERT ON tokens "
        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_tokens() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        "CREATE TRIGGER refuse_tokens BEFORE INSERT ON tokens "
        "FOR EACH ROW EXECUTE FUNCTION refuse_tokens()",
    ],
}


async def execute(api: Api, *statements: str) -> None:
    async with api.app.state.paycheck.store.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def events(api: Api) -> list[Any]:
    async with api.app.state.paycheck.store.engine.connect() as connection:
        return list(await connection.execute(select(tables.token_events)))


async def deadlines(api: Api) -> set[tuple[str, Any]]:
    async with api.app.state.paycheck.store.engine.connect() as connection:
        rows = await connection.execute(
            select(tables.tokens.c.digest, tables.tokens.c.expires_at).where(
                tables.tokens.c.expires_at.is_not(None)
            )
        )
        return {(digest, deadline) for digest, deadline in rows}


@pytest.mark.parametrize("change", ["reset", "replaced"])
async def test_a_change_that_rolls_back_leaves_no_event(served: Served, change: str) -> None:
    api = served.api
    artifact = await api.artifact()
    token = (await api.pay(artifact)).json()["token"]
    dialect = served.runtime.store.engine.dialect.name
    await execute(api, *REFUSE_NEW_TOKENS[dialect])

    async with served.follow() as follower:
        response = await (api.reset(artifact) if change == "reset" else api.pay(artifact))
        later = await follower.deactivations_until_heartbeat()

    assert response.status_code == 500
    assert await events(api) == []
    assert later == []
    assert (await api.check(token)).status_code == 200


@pytest.mark.parametrize("change", ["reset", "replaced"])
async def test_a_change_that_commits_has_its_event(api: Api, change: str) -> None:
    artifact = await api.artifact()
    token = (await api.pay(artifact)).json()["token"]

    response = await (api.reset(artifact) if change == "reset" else api.pay(artifact))

    assert response.status_code == 200
    [event] = await events(api)
    assert event.token_digest == tokens.digest(token)
    assert event.service_name == "Online marketplace"
    assert event.reason == change
    assert (event.token_digest, event.stops_at) in await deadlines(api)


async def test_under_concurrent_changes_each_tokens_last_event_is_its_deadline(api: Api) -> None:
    """Whatever the interleaving, a follower applying the events in order ends up right.

    Resets and second payments (some under one Idempotency-Key, whose losers roll back) race on
    two bills. Afterwards every token with a deadline has events, its last one carries that
    very deadline, and no event names a token that does not exist (a rolled-back one).
    """
    artifacts = [await api.artifact(), await api.artifact(service="Weather")]
    for artifact in artifacts:
        assert (await api.pay(artifact)).status_code == 200
    changes = []
    for _ in range(6):
        for artifact in artifacts:
            key = {"Idempotency-Key": str(uuid.uuid4())}  # shared by the two /pay
            changes += [api.reset(artifact), api.pay(artifact, **key), api.pay(artifact, **key)]

    responses = await asyncio.gather(*changes)

    assert {response.status_code for response in responses} == {200}
    last: dict[str, Any] = {}
    for event in sorted(await events(api), key=lambda event: event.id):
        last[event.token_digest] = event.stops_at
    assert set(last.items()) == await deadlines(api)


async def test_an_event_holds_the_tokens_digest_never_the_token(api: Api) -> None:
    artifact = await api.artifact()
    token = (await api.pay(artifact)).json()["token"]
    await api.reset(artifact)

    [event] = await events(api)

    assert token not in repr(tuple(event))
    assert artifact not in repr(tuple(event))
    assert event.token_digest == tokens.digest(token)


async def test_a_token_already_stopped_appends_nothing_more(api: Api) -> None:
    artifact = await api.artifact()
    await api.pay(artifact)
    await api.reset(artifact)
    api.clock.advance(seconds=api.app.state.paycheck.settings.reset_grace_seconds + 1)

    await api.reset(artifact)

    # The first token had stopped: only the second gets an event.
    assert len(await events(api)) == 2
