"""POST /token/reset and POST /token/check: grace, supersession, periods and max-age."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from paycheck_core import tokens
from paycheck_server import db as tables

from .conftest import TODAY, Api


async def paid(api: Api, **kwargs: object) -> tuple[str, str]:
    artifact = await api.artifact(**kwargs)
    token = (await api.pay(artifact)).json()["token"]
    return artifact, token


async def test_a_reset_token_works_at_once(api: Api) -> None:
    artifact, _ = await paid(api)

    response = await api.reset(artifact)

    assert response.status_code == 200
    assert (await api.check(response.json()["token"])).status_code == 200


async def test_the_previous_token_works_until_the_default_grace_ends(api: Api) -> None:
    artifact, old = await paid(api)
    await api.reset(artifact)

    api.clock.advance(seconds=299)
    assert (await api.check(old)).status_code == 200
    api.clock.advance(seconds=1)
    assert (await api.check(old)).status_code == 401


async def test_a_token_in_grace_is_cached_only_until_its_deadline(api: Api) -> None:
    artifact, old = await paid(api)
    await api.reset(artifact)
    api.clock.advance(seconds=100)

    response = await api.check(old)

    assert response.headers["cache-control"] == "private, max-age=200"


async def test_older_tokens_stop_at_once_on_a_second_reset(api: Api) -> None:
    artifact, first = await paid(api)
    second = (await api.reset(artifact)).json()["token"]

    third = (await api.reset(artifact)).json()["token"]

    assert (await api.check(first)).status_code == 401
    assert (await api.check(second)).status_code == 200
    assert (await api.check(third)).status_code == 200


async def test_fifty_concurrent_resets_leave_exactly_one_current_token(api: Api) -> None:
    artifact, _ = await paid(api)

    answers = await asyncio.gather(*(api.reset(artifact) for _ in range(50)))

    assert {answer.status_code for answer in answers} == {200}
    assert await api.current_tokens() == 1


async def test_resetting_an_unpaid_bill_is_a_404_saying_so(api: Api) -> None:
    response = await api.reset(await api.artifact())

    assert response.status_code == 404
    assert "not paid" in response.json()["description"]


async def test_resetting_an_unknown_artifact_is_a_404(api: Api) -> None:
    response = await api.reset(tokens.generate_artifact())

    assert response.status_code == 404


async def test_tokens_are_stored_only_as_digests(api: Api) -> None:
    _, token = await paid(api)

    digests = await api.count(tables.tokens, tables.tokens.c.digest == tokens.digest(token))

    assert digests == 1


async def test_an_allowed_check_names_the_service_method_and_period(api: Api) -> None:
    _, token = await paid(api)

    response = await api.check(token)

    assert response.status_code == 200
    assert response.json() == {
        "allowed": True,
        "serviceName": "Online marketplace",
        "methodName": "getInfo",
        "paidUntil": "2030-01-10",
        "message": "Access granted",
    }
    # No longer than the default reset grace, 300 s: see test_grant_max_age.
    assert response.headers["cache-control"] == "private, max-age=300"


async def test_an_allowed_check_is_cached_no_longer_than_the_period(api: Api) -> None:
    _, token = await paid(api, date_to=TODAY)
    api.clock.advance(seconds=12 * 3600 - 90)

    response = await api.check(token)

    assert response.headers["cache-control"] == "private, max-age=90"


async def test_a_token_stops_at_the_end_of_date_to(api: Api) -> None:
    _, token = await paid(api, date_to=TODAY)
    api.clock.advance(seconds=12 * 3600)

    response = await api.check(token)

    assert response.status_code == 401
    assert response.json() == {"description": "The token expired at the end of 2030-01-01 (UTC)"}


async def test_a_token_is_not_active_before_date_from(api: Api) -> None:
    _, token = await paid(api, date_from=TODAY + timedelta(days=1))

    response = await api.check(token)

    assert response.status_code == 401
    assert response.headers["cache-control"] == "private, max-age=3600"


async def test_a_not_yet_active_token_is_cached_until_it_becomes_active(api: Api) -> None:
    _, token = await paid(api, date_from=TODAY + timedelta(days=1))
    api.clock.advance(seconds=12 * 3600 - 30)

    response = await api.check(token)

    assert response.headers["cache-control"] == "private, max-age=30"
    api.clock.advance(seconds=30)
    assert (await api.check(token)).status_code == 200


async def test_another_service_is_a_403_that_names_nothing_of_the_token(api: Api) -> None:
    _, token = await paid(api)

    response = await api.check(token, service="Weather", method="getForecast")

    assert response.status_code == 403
    assert "Online marketplace" not in response.text
    assert "getInfo" not in response.text
    assert response.headers["cache-control"] == "private, max-age=60"


async def test_a_method_not_bought_is_a_403(api: Api) -> None:
    _, token = await paid(api, methods=["getInfo"])

    response = await api.check(token, method="placeOrder")

    assert response.status_code == 403


async def test_an_unknown_token_is_a_401(api: Api) -> None:
    response = await api.check(tokens.generate_token())

    assert response.status_code == 401
    assert response.json() == {"description": "Invalid or expired token"}


async def test_a_malformed_token_is_a_401(api: Api) -> None:
    response = await api.check("tkn_xyz987abc")

    assert response.status_code == 401


async def test_a_check_without_required_fields_is_a_400_naming_them(api: Api) -> None:
    response = await api.post("/token/check", {"serviceName": "Weather"})

    assert response.status_code == 400
    assert response.json() == {"description": "token is required; methodName is required"}
    assert response.headers["cache-control"] == "private, max-age=0"
