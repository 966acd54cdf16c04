"""A grant is never cacheable for longer than the reset grace, so no cache outlives a reset.

A service may keep an allowed answer for its ``max-age``. An answer cached just before a
``/token/reset``, a second ``/pay`` or a revocation cannot be called back, so its ``max-age``
is at most ``PAYCHECK_RESET_GRACE_SECONDS``: a validator with the default ``ttl`` then stops
granting a replaced token when the server does, and a revoked one within the grace.

Every test runs on SQLite and PostgreSQL, through the fast read and the engine's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest

from paycheck_core import AsyncPaycheckClient, AsyncTokenValidator, tokens
from paycheck_server import Settings
from paycheck_server.access import MAX_AGE_CAP
from paycheck_server.db import create_engine
from paycheck_server.store import Store

from .conftest import TODAY, Api
from .read_paths import READ_PATHS, assert_read_through, read_through

SERVICE = "Online marketplace"
METHOD = "getInfo"
GRACES = [0, 1, 5, 300, 3600, 7200]


@pytest.fixture(params=GRACES, ids=[f"grace={grace}" for grace in GRACES])
def grace(request: pytest.FixtureRequest) -> int:
    value: int = request.param
    return value


@pytest.fixture
def settings(database_url: str, grace: int) -> Settings:
    return Settings(database_url=database_url, reset_grace_seconds=grace)


@pytest.fixture(params=READ_PATHS)
async def service_api(api: Api, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The app, its checks reading token states by each path in turn."""
    await read_through(api, request.param)
    yield api
    assert_read_through(api, request.param)


def max_age(response: httpx.Response) -> int:
    header = response.headers["cache-control"]
    assert header.startswith("private, max-age="), header
    return int(header.removeprefix("private, max-age="))


async def paid(api: Api, **kwargs: object) -> tuple[str, str]:
    artifact = await api.artifact(**kwargs)
    response = await api.pay(artifact)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return artifact, token


# --- the max-age of a grant ------------------------------------------------------------------


async def test_a_grant_is_cacheable_no_longer_than_the_reset_grace(
    service_api: Api, grace: int
) -> None:
    _, token = await paid(service_api)

    response = await service_api.check(token)

    assert response.status_code == 200
    assert max_age(response) == min(grace, MAX_AGE_CAP)


async def test_a_grant_in_its_last_seconds_keeps_the_shorter_max_age(
    service_api: Api, grace: int
) -> None:
    _, token = await paid(service_api, date_to=TODAY)
    service_api.clock.advance(seconds=12 * 3600 - 3)

    response = await service_api.check(token)

    assert max_age(response) == min(grace, 3)


async def test_a_token_in_its_grace_is_cacheable_until_the_grace_ends_at_most(
    service_api: Api, grace: int
) -> None:
    artifact, old = await paid(service_api)
    await service_api.reset(artifact)
    service_api.clock.advance(seconds=grace // 2)

    response = await service_api.check(old)

    if grace - grace // 2 == 0:
        assert response.status_code == 401
    else:
        assert max_age(response) == min(grace - grace // 2, MAX_AGE_CAP)


async def test_denials_keep_their_own_max_age(service_api: Api, grace: int) -> None:
    _, token = await paid(service_api, methods=["getInfo"])

    response = await service_api.check(token, method="search")

    assert (response.status_code, max_age(response)) == (403, 60)


async def test_a_grant_says_how_long_it_stays_true_without_the_grace_cut(
    service_api: Api, grace: int
) -> None:
    _, token = await paid(service_api, date_to=TODAY)  # the clock is at 12:00 UTC

    response = await service_api.check(token)

    assert response.headers["paycheck-valid-for"] == str(12 * 3600)
    assert max_age(response) == min(grace, MAX_AGE_CAP)


async def test_a_grant_in_its_grace_is_valid_until_the_grace_ends(
    service_api: Api, grace: int
) -> None:
    artifact, old = await paid(service_api)
    await service_api.reset(artifact)

    response = await service_api.check(old)

    if grace == 0:
        assert response.status_code == 401
    else:
        assert response.headers["paycheck-valid-for"] == str(grace)


@pytest.mark.parametrize("method", ["search", "getInfo"])
async def test_a_denial_says_nothing_of_how_long_a_token_is_valid(
    service_api: Api, method: str
) -> None:
    _, token = await paid(service_api, methods=["getInfo"])

    denied = await service_api.check(token, method="search")
    other = await service_api.check(token, service="Weather", method=method)

    assert {denied.status_code, other.status_code} == {403}
    assert "paycheck-valid-for" not in denied.headers
    assert "paycheck-valid-for" not in other.headers


# --- what a validator at a service does ------------------------------------------------------


async def reset(api: Api, artifact: str, token: str, database_url: str) -> None:
    assert (await api.reset(artifact)).status_code == 200


async def pay_again(api: Api, artifact: str, token: str, database_url: str) -> None:
    assert (await api.pay(artifact)).status_code == 200


async def revoke(api: Api, artifact: str, token: str, database_url: str) -> None:
    # As `paycheck-server revoke` does: another connection, the server left running.
    store = Store(create_engine(database_url), clock=api.clock)
    try:
        assert await store.revoke(tokens.digest(token)) == "revoked"
    finally:
        await store.aclose()


Deactivation = Callable[[Api, str, str, str], Awaitable[None]]


@pytest.mark.parametrize(
    "deactivate", [reset, pay_again, revoke], ids=["reset", "second pay", "revoke"]
)
async def test_a_validator_stops_granting_a_deactivated_token_within_the_grace(
    service_api: Api, database_url: str, grace: int, deactivate: Deactivation
) -> None:
    api = service_api
    artifact, token = await paid(api)
    client = AsyncPaycheckClient("http://paycheck.test", transport=httpx.ASGITransport(api.app))
    # The service's clock is the server's: the test moves both at once.
    validator = AsyncTokenValidator(client, SERVICE, clock=lambda: api.clock.now().timestamp())
    try:
        assert (await validator.validate(token, METHOD)).allowed  # cached, default ttl
        api.clock.advance(seconds=min(1, grace))
        start = api.clock.now()
        await deactivate(api, artifact, token, database_url)

        # Every second of the grace and past it: the service never grants what the server
        # refuses, except a revoked token, and not once the grace is over.
        probes = sorted({*range(min(grace, 10)), *range(max(grace - 3, 0), grace + 3)})
        for elapsed in probes:
            api.clock.set(start + timedelta(seconds=elapsed))
            served = (await validator.validate(token, METHOD)).allowed
            at_server = (await api.check(token)).status_code == 200
            if elapsed >= grace:
                assert not served, f"granted {elapsed} s after, grace {grace} s"
            elif deactivate is not revoke:
                assert served == at_server, f"{elapsed} s after, grace {grace} s"
    finally:
        await client.aclose()
