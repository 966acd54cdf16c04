"""The validators' cache rules, with a fake clock: both validators behave the same.

An allowed answer lives min(ttl, max-age, 3600 s), a denial min(negative_ttl, max-age, 3600 s);
errors are never cached; a malformed token is denied before the cache and the network.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from paycheck_core import (
    MAX_CACHE_TTL,
    AsyncPaycheckClient,
    AsyncTokenValidator,
    BadRequestError,
    PaycheckClient,
    PaymentServiceUnavailable,
    TokenValidator,
    ValidatorStats,
    tokens,
)

TOKEN = tokens.generate_token()
SERVICE = "Online marketplace"


def allow(server: Any, cache_control: str | None = None) -> None:
    """Grant whatever is asked, naming it as the contract requires."""
    headers = {"Cache-Control": cache_control} if cache_control else {}

    def grant(request: httpx.Request) -> httpx.Response:
        asked = json.loads(request.content)
        body = {"allowed": True, **{k: asked[k] for k in ("serviceName", "methodName")}}
        return httpx.Response(200, json=body, headers=headers)

    server.handler = grant


def deny(server: Any, status: int = 401, cache_control: str | None = None) -> None:
    headers = {"Cache-Control": cache_control} if cache_control else {}
    server.answer(status, {"description": "Invalid or expired token"}, **headers)


async def expiry(validator: Any, server: Any, clock: Any, *, probe: list[float]) -> list[bool]:
    """Validate once, then tell for each offset in ``probe`` whether the answer was cached."""
    await validator.validate(TOKEN)
    start, cached = clock.now, []
    for offset in probe:
        clock.now = start + offset
        calls = len(server.requests)
        await validator.validate(TOKEN)
        cached.append(len(server.requests) == calls)
    return cached


# --- lifetimes -----------------------------------------------------------------------------------


async def test_an_allowed_answer_is_served_from_the_cache(make_validator: Any, server: Any) -> None:
    allow(server)
    validator = make_validator()

    first = await validator.validate(TOKEN)
    second = await validator.validate(TOKEN)

    assert first.allowed
    assert second == first
    assert len(server.requests) == 1
    assert validator.stats == ValidatorStats(hits=1, misses=1, upstream_calls=1, size=1)


async def test_an_allowed_answer_lives_ttl_seconds_without_max_age(
    make_validator: Any, server: Any, clock: Any
) -> None:
    allow(server)
    validator = make_validator(ttl=300)

    assert await expiry(validator, server, clock, probe=[299.9, 300]) == [True, False]


async def test_a_max_age_below_ttl_shortens_an_allowed_entry(
    make_validator: Any, server: Any, clock: Any
) -> None:
    allow(server, "max-age=60")
    validator = make_validator(ttl=300)

    assert await expiry(validator, server, clock, probe=[59.9, 60]) == [True, False]


async def test_a_max_age_above_ttl_does_not_lengthen_an_allowed_entry(
    make_validator: Any, server: Any, clock: Any
) -> None:
    allow(server, "max-age=1000")
    validator = make_validator(ttl=300)

    assert await expiry(validator, server, clock, probe=[299.9, 300]) == [True, False]


async def test_no_answer_is_kept_beyond_an_hour_whatever_the_server_says(
    make_validator: Any, server: Any, clock: Any
) -> None:
    allow(server, "max-age=86400")
    validator = make_validator(ttl=MAX_CACHE_TTL)

    assert await expiry(validator, server, clock, probe=[3599.9, 3600]) == [True, False]


@pytest.mark.parametrize("status", [401, 403])
async def test_a_denial_lives_negative_ttl_seconds_without_max_age(
    make_validator: Any, server: Any, clock: Any, status: int
) -> None:
    deny(server, status)
    validator = make_validator(ttl=300, negative_ttl=60)

    assert await expiry(validator, server, clock, probe=[59.9, 60]) == [True, False]
    assert (await validator.validate(TOKEN)).status == status


async def test_a_max_age_below_negative_ttl_shortens_a_denial(
    make_validator: Any, server: Any, clock: Any
) -> None:
    deny(server, 401, "max-age=10")
    validator = make_validator(negative_ttl=60)

    assert await expiry(validator, server, clock, probe=[9.9, 10]) == [True, False]


async def test_a_denial_is_kept_at_most_an_hour(
    make_validator: Any, server: Any, clock: Any
) -> None:
    deny(server, 403, "max-age=99999")
    validator = make_validator(negative_ttl=MAX_CACHE_TTL)

    assert await expiry(validator, server, clock, probe=[3599.9, 3600]) == [True, False]


async def test_a_200_with_allowed_false_is_cached_as_a_denial(
    make_validator: Any, server: Any, clock: Any
) -> None:
    server.answer(200, {"allowed": False, "serviceName": SERVICE, "methodName": "getInfo"})
    validator = make_validator(ttl=300, negative_ttl=5)

    assert await expiry(validator, server, clock, probe=[4.9, 5]) == [True, False]


@pytest.mark.parametrize("cache_control", ["max-age=0", "no-store", "no-cache"])
@pytest.mark.parametrize("answer", [allow, deny], ids=["allowed", "denied"])
async def test_an_answer_the_server_forbids_to_keep_is_not_cached(
    make_validator: Any, server: Any, cache_control: str, answer: Any
) -> None:
    answer(server, cache_control=cache_control)
    validator = make_validator()

    await validator.validate(TOKEN)
    await validator.validate(TOKEN)

    assert len(server.requests) == 2
    assert validator.stats.size == 0


@pytest.mark.parametrize(("option", "answer"), [("ttl", allow), ("negative_ttl", deny)])
async def test_a_zero_ttl_caches_nothing(
    make_validator: Any, server: Any, option: str, answer: Any
) -> None:
    answer(server)
    validator = make_validator(**{option: 0})

    await validator.validate(TOKEN)
    await validator.validate(TOKEN)

    assert len(server.requests) == 2


async def test_an_expired_entry_is_refreshed_in_place(
    make_validator: Any, server: Any, clock: Any
) -> None:
    allow(server)
    validator = make_validator(ttl=10)
    await validator.validate(TOKEN)
    clock.advance(10)
    deny(server)

    assert not (await validator.validate(TOKEN)).allowed
    assert not (await validator.validate(TOKEN)).allowed
    assert validator.stats.size == 1
    assert len(server.requests) == 2


async def test_each_method_is_cached_on_its_own(make_validator: Any, server: Any) -> None:
    allow(server)
    validator = make_validator()

    await validator.validate(TOKEN, "getInfo")
    await validator.validate(TOKEN, "buy")

    assert [request.content.count(b"buy") for request in server.requests] == [0, 1]
    assert validator.stats.size == 2


# --- what is never cached ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (
            lambda request: httpx.Response(500, json={"description": "boom"}),
            PaymentServiceUnavailable,
        ),
        (lambda request: httpx.Response(503, text="<html>down</html>"), PaymentServiceUnavailable),
        (lambda request: httpx.Response(200, text="<html>proxy</html>"), PaymentServiceUnavailable),
        (lambda request: httpx.Response(400, json={"description": "bad"}), BadRequestError),
    ],
    ids=["500", "503-html", "200-garbage", "400"],
)
async def test_an_error_answer_is_not_cached(
    make_validator: Any, server: Any, handler: Any, error: type[Exception]
) -> None:
    server.handler = handler
    validator = make_validator()

    for _ in range(2):
        with pytest.raises(error):
            await validator.validate(TOKEN)

    assert len(server.requests) == 2
    assert validator.stats.size == 0


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=["connect", "timeout"],
)
async def test_a_transport_error_is_not_cached_and_the_next_call_goes_upstream(
    make_validator: Any, server: Any, failure: Exception
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise failure

    server.handler = broken
    validator = make_validator()
    with pytest.raises(PaymentServiceUnavailable):
        await validator.validate(TOKEN)
    allow(server)

    assert (await validator.validate(TOKEN)).allowed
    assert len(server.requests) == 2


# --- malformed tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        TOKEN[:-1],
        TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B"),
        "pca_" + TOKEN[4:],
        tokens.generate_artifact(),
        str(uuid.uuid4()),
        "",
        None,
        42,
    ],
    ids=["truncated", "typo", "swapped-prefix", "artifact", "uuid", "empty", "none", "int"],
)
async def test_a_malformed_token_is_denied_401_without_a_call_or_a_cache_entry(
    make_validator: Any, server: Any, token: Any
) -> None:
    validator = make_validator()

    decision = await validator.validate(token)

    assert (decision.allowed, decision.status) == (False, 401)
    assert decision.service == SERVICE
    assert decision.reason
    assert server.requests == []
    assert validator.stats == ValidatorStats(hits=0, misses=0, upstream_calls=0, size=0)


async def test_without_format_verification_a_uuid_token_is_sent_to_the_server(
    make_validator: Any, server: Any
) -> None:
    allow(server)
    validator = make_validator(verify_format=False)
    token = str(uuid.uuid4())

    assert (await validator.validate(token)).allowed
    assert server.last_json()["token"] == token


async def test_without_format_verification_an_empty_token_is_still_denied(
    make_validator: Any, server: Any
) -> None:
    validator = make_validator(verify_format=False)

    assert (await validator.validate("")).status == 401
    assert server.requests == []


# --- invalidate, stats, size ---------------------------------------------------------------------


async def test_invalidate_forgets_every_method_of_that_token_only(
    make_validator: Any, server: Any
) -> None:
    allow(server)
    validator = make_validator()
    other = tokens.generate_token()
    for token, method in [(TOKEN, "getInfo"), (TOKEN, "buy"), (other, "getInfo")]:
        await validator.validate(token, method)

    validator.invalidate(TOKEN)

    assert validator.stats.size == 1
    await validator.validate(other)
    assert len(server.requests) == 3
    await validator.validate(TOKEN)
    assert len(server.requests) == 4


async def test_invalidating_an_unknown_token_is_harmless(make_validator: Any) -> None:
    validator = make_validator()

    validator.invalidate(tokens.generate_token())

    assert validator.stats.size == 0


async def test_stats_count_hits_misses_and_upstream_calls(make_validator: Any, server: Any) -> None:
    allow(server)
    validator = make_validator()
    others = [tokens.generate_token() for _ in range(3)]

    for token in [TOKEN, TOKEN, TOKEN, *others, "garbage"]:
        await validator.validate(token)

    assert validator.stats == ValidatorStats(hits=2, misses=4, upstream_calls=4, size=4)


@pytest.mark.slow
async def test_the_cache_never_holds_more_than_maxsize_entries(
    make_validator: Any, server: Any
) -> None:
    allow(server)
    validator = make_validator(maxsize=1_000)
    sizes = []

    for _ in range(10_000):
        await validator.validate(tokens.generate_token())
        sizes.append(validator.stats.size)

    assert max(sizes) == 1_000
    assert validator.stats.upstream_calls == 10_000


async def test_the_oldest_entry_is_evicted_first(make_validator: Any, server: Any) -> None:
    allow(server)
    validator = make_validator(maxsize=2)
    first, second, third = (tokens.generate_token() for _ in range(3))
    for token in (first, second, third):
        await validator.validate(token)

    await validator.validate(third)
    await validator.validate(second)
    assert len(server.requests) == 3
    await validator.validate(first)
    assert len(server.requests) == 4


# --- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 3601}, "ttl must be between 0 and 3600"),
        ({"negative_ttl": 3601}, "negative_ttl must be between 0 and 3600"),
        ({"ttl": -1}, "ttl must be between 0 and 3600"),
        ({"ttl": float("nan")}, "ttl must be between 0 and 3600"),
        ({"maxsize": 0}, "maxsize must be a positive number"),
    ],
)
async def test_an_option_out_of_range_is_a_value_error(
    make_validator: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_validator(**options)


@pytest.mark.parametrize("validator_class", [TokenValidator, AsyncTokenValidator])
def test_an_empty_service_is_a_value_error(validator_class: Any) -> None:
    with pytest.raises(ValueError, match="service must be the non-empty name"):
        validator_class("http://payments.test", "")


@pytest.mark.parametrize(
    ("validator_class", "client_class"),
    [(TokenValidator, AsyncPaycheckClient), (AsyncTokenValidator, PaycheckClient)],
)
async def test_a_client_of_the_other_kind_is_a_value_error(
    validator_class: Any, client_class: Any
) -> None:
    client = client_class("http://payments.test")
    with pytest.raises(ValueError, match="client_or_url must be"):
        validator_class(client, SERVICE)
    if isinstance(client, AsyncPaycheckClient):
        await client.aclose()
    else:
        client.close()


def test_a_validator_made_from_a_url_owns_and_closes_its_client() -> None:
    with TokenValidator("http://payments.test", SERVICE, timeout=2.0) as validator:
        assert validator.client.base_url == "http://payments.test"
        assert validator.client.timeout == 2.0
    assert validator.client._http.is_closed


async def test_an_async_validator_made_from_a_url_owns_and_closes_its_client() -> None:
    async with AsyncTokenValidator("http://payments.test", SERVICE) as validator:
        assert validator.client.base_url == "http://payments.test"
    assert validator.client._http.is_closed


def test_a_validator_leaves_a_client_it_was_given_open() -> None:
    client = PaycheckClient("http://payments.test")
    with TokenValidator(client, SERVICE):
        pass
    assert not client._http.is_closed
    client.close()


# --- cached(): the adapters' I/O-free first look --------------------------------------------------


async def test_cached_answers_a_hit_without_asking_the_server(
    make_validator: Any, server: Any
) -> None:
    allow(server)
    validator = make_validator()
    granted = await validator.validate(TOKEN)

    assert validator.validator.cached(TOKEN, "getInfo") == granted
    assert len(server.requests) == 1
    assert validator.stats.hits == 1


async def test_cached_is_none_for_an_unseen_token_and_asks_nobody(
    make_validator: Any, server: Any
) -> None:
    allow(server)
    validator = make_validator()

    assert validator.validator.cached(TOKEN, "getInfo") is None
    assert validator.validator.cached(42, "getInfo") is None
    assert server.requests == []
    assert validator.stats == ValidatorStats(hits=0, misses=0, upstream_calls=0, size=0)


async def test_cached_is_none_once_the_answer_expired(
    make_validator: Any, server: Any, clock: Any
) -> None:
    allow(server)
    validator = make_validator(ttl=300)
    await validator.validate(TOKEN)

    clock.now += 300

    assert validator.validator.cached(TOKEN, "getInfo") is None


async def test_cached_keeps_answers_per_method(make_validator: Any, server: Any) -> None:
    allow(server)
    validator = make_validator()
    await validator.validate(TOKEN, "getInfo")

    assert validator.validator.cached(TOKEN, "search") is None
