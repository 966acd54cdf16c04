"""A check's answer must be about what was asked: the same service and the same method.

A 200 that names another service or method (a proxy or a server confused between requests)
is not an answer to the question: the clients raise
:class:`~paycheck_core.PaymentServiceUnavailable` as for any body that is not the contract's,
and the validators never grant on it nor cache it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from paycheck_core import (
    AccessDecision,
    AsyncPaycheckClient,
    AsyncTokenValidator,
    PaycheckClient,
    PaymentServiceUnavailable,
    TokenValidator,
    tokens,
)

from .conftest import BASE_URL, FakeServer

TOKEN = tokens.generate_token()
SERVICE = "Online marketplace"
METHOD = "placeOrder"
MISSING = object()

# What the answer says instead of (SERVICE, METHOD); MISSING leaves the field out.
MISMATCHES: dict[str, tuple[object, object]] = {
    "another service": ("Weather", METHOD),
    "another method": (SERVICE, "getForecast"),
    "another service and method": ("Weather", "getForecast"),
    "the service in lower case": ("online marketplace", METHOD),
    "the service in upper case": ("ONLINE MARKETPLACE", METHOD),
    "the method in another case": (SERVICE, "PlaceOrder"),
    "the service with a trailing space": (SERVICE + " ", METHOD),
    # The last letter is the Cyrillic one that looks like a Latin "e".
    "the service with a look-alike letter": ("Online marketplac\u0435", METHOD),
    "an empty method": (SERVICE, ""),
    "no serviceName": (MISSING, METHOD),
    "no methodName": (SERVICE, MISSING),
    "neither name": (MISSING, MISSING),
    "a null serviceName": (None, METHOD),
    "a number as methodName": (SERVICE, 7),
}


def answer(names: tuple[object, object], *, allowed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"allowed": allowed, "paidUntil": "2026-12-31"}
    for field, value in zip(("serviceName", "methodName"), names, strict=True):
        if value is not MISSING:
            body[field] = value
    return body


@pytest.fixture(params=list(MISMATCHES), ids=list(MISMATCHES))
def mismatch(request: pytest.FixtureRequest) -> tuple[object, object]:
    return MISMATCHES[request.param]


@pytest.fixture(params=[True, False], ids=["allowed", "denied"])
def allowed(request: pytest.FixtureRequest) -> bool:
    value: bool = request.param
    return value


# --- the clients -----------------------------------------------------------------------------


async def test_a_client_refuses_an_answer_about_anything_else(
    twin: Any, server: FakeServer, mismatch: tuple[object, object], allowed: bool
) -> None:
    server.answer(200, answer(mismatch, allowed=allowed), **{"Cache-Control": "max-age=3600"})

    with pytest.raises(PaymentServiceUnavailable, match="not the contract's") as caught:
        await twin.call("check_token", TOKEN, SERVICE, METHOD)

    assert caught.value.status_code == 200
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("allowed", [True, False], ids=["allowed", "denied"])
async def test_a_client_accepts_the_answer_about_what_was_asked(
    twin: Any, server: FakeServer, allowed: bool
) -> None:
    server.answer(200, answer((SERVICE, METHOD), allowed=allowed))

    decision = await twin.call("check_token", TOKEN, SERVICE, METHOD)

    assert (decision.allowed, decision.service, decision.method) == (allowed, SERVICE, METHOD)


# --- the validators --------------------------------------------------------------------------


async def test_a_validator_neither_grants_nor_caches_an_answer_about_anything_else(
    make_validator: Any, server: FakeServer, mismatch: tuple[object, object], allowed: bool
) -> None:
    server.answer(200, answer(mismatch, allowed=allowed), **{"Cache-Control": "max-age=3600"})
    validator = make_validator(ttl=3600, negative_ttl=3600)

    for _ in range(2):
        with pytest.raises(PaymentServiceUnavailable):
            await validator.validate(TOKEN, METHOD)

    assert len(server.requests) == 2
    assert validator.stats.size == 0
    assert validator.validator.cached(TOKEN, METHOD) is None


async def test_a_validator_asks_again_after_an_answer_about_anything_else(
    make_validator: Any, server: FakeServer, mismatch: tuple[object, object]
) -> None:
    server.answer(200, answer(mismatch, allowed=True))
    validator = make_validator()
    with pytest.raises(PaymentServiceUnavailable):
        await validator.validate(TOKEN, METHOD)
    server.answer(401, {"description": "Invalid or expired token"})

    decision = await validator.validate(TOKEN, METHOD)

    assert (decision.allowed, decision.status) == (False, 401)


class ConfusedClient(PaycheckClient):
    """A client (a user's subclass, say) whose decisions name another service and method."""

    def check_token(self, token: str, service: str, method: str) -> AccessDecision:
        return AccessDecision(allowed=True, status=200, service="Weather", method="getForecast")


class AsyncConfusedClient(AsyncPaycheckClient):
    """The asyncio twin of :class:`ConfusedClient`."""

    async def check_token(self, token: str, service: str, method: str) -> AccessDecision:
        return AccessDecision(allowed=True, status=200, service="Weather", method="getForecast")


async def test_a_validator_holds_any_client_to_the_question() -> None:
    server = FakeServer()
    sync = TokenValidator(ConfusedClient(BASE_URL, transport=httpx.MockTransport(server)), SERVICE)
    asynchronous = AsyncTokenValidator(
        AsyncConfusedClient(BASE_URL, transport=httpx.MockTransport(server)), SERVICE
    )

    with pytest.raises(PaymentServiceUnavailable, match="'Weather'/'getForecast'"):
        sync.validate(TOKEN, METHOD)
    with pytest.raises(PaymentServiceUnavailable, match="'Weather'/'getForecast'"):
        await asynchronous.validate(TOKEN, METHOD)

    assert (sync.stats.size, asynchronous.stats.size) == (0, 0)
    sync.client.close()
    await asynchronous.client.aclose()
