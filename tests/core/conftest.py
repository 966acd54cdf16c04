"""Fixtures of the core SDK's tests: a scripted payment server, both clients, a fake clock.

The clients are tested through their real HTTP surface: requests go through
``httpx.MockTransport`` to a :class:`FakeServer` that records them and answers with what the
test scripted. Every client test runs twice, once per twin, through the :class:`Twin` helper
that awaits a result only when the async client returns a coroutine.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

import httpx
import pytest

from paycheck_core import (
    AccessDecision,
    AsyncPaycheckClient,
    AsyncTokenValidator,
    PaycheckClient,
    TokenValidator,
    ValidatorStats,
    tokens,
)

from .feeds import AnyPayments, AsyncPayments, Followed, SyncPayments

BASE_URL = "http://payments.test"


class Contract:
    """Answers exactly as the seed contract writes them, and the calls that get them."""

    TOKEN = tokens.generate_token()
    ARTIFACT = tokens.generate_artifact()
    SERVICE = "Online marketplace"

    BILL: ClassVar[dict[str, Any]] = {
        "serviceName": SERVICE,
        "methods": [
            {"methodName": "getInfo", "price": 120.2},
            {"methodName": "buy", "price": 156.92},
        ],
        "dateFrom": "2025-11-01",
        "dateTo": "2025-11-13",
        "totalPrice": 277.12,
        "paymentArtifact": ARTIFACT,
    }
    PAYMENT: ClassVar[dict[str, Any]] = {"message": "Payment is succeeded", "token": TOKEN}
    PAYMENT_INFO: ClassVar[dict[str, Any]] = {
        "paidUntil": "2025-12-01",
        "availableService": SERVICE,
        "methods": ["getInfo"],
    }
    CATALOG: ClassVar[dict[str, Any]] = {
        "services": [
            {
                "serviceName": SERVICE,
                "currency": "EUR",
                "methods": [{"methodName": "getInfo", "pricePerDay": 9.5}],
            }
        ]
    }
    ALLOWED: ClassVar[dict[str, Any]] = {
        "allowed": True,
        "serviceName": SERVICE,
        "methodName": "getInfo",
    }

    # method name: (its positional arguments, a 200 body the contract accepts)
    CALLS: ClassVar[dict[str, tuple[tuple[Any, ...], Any]]] = {
        "list_services": ((), CATALOG),
        "create_bill": ((SERVICE, date(2025, 11, 1), date(2025, 11, 13)), BILL),
        "pay": ((ARTIFACT,), PAYMENT),
        "payment_info": ((ARTIFACT,), PAYMENT_INFO),
        "reset_token": ((ARTIFACT,), {"token": TOKEN}),
        "check_token": ((TOKEN, SERVICE, "getInfo"), ALLOWED),
    }


@pytest.fixture
def contract() -> type[Contract]:
    """The seed contract's answers (tests must copy a body before changing it)."""
    return Contract


Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A response whose body is ``body`` as JSON."""
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class FakeServer:
    """A payment server that answers every request with the scripted handler and records it."""

    handler: Handler = field(default=lambda request: json_response(500, {"description": "unset"}))
    requests: list[httpx.Request] = field(default_factory=list)

    def answer(self, status: int, body: Any = None, **headers: str) -> None:
        """Answer every request with ``status`` and the JSON ``body``."""
        self.handler = lambda request: json_response(status, body, headers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def last(self) -> httpx.Request:
        assert self.requests, "the client sent no request"
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


class Twin:
    """One of the two clients, driven the same way: ``await twin.call("pay", artifact)``."""

    def __init__(self, client: PaycheckClient | AsyncPaycheckClient) -> None:
        self.client = client

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, name)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


@pytest.fixture(params=["sync", "async"])
async def twin(request: pytest.FixtureRequest, server: FakeServer) -> AsyncIterator[Twin]:
    """Each client in turn, talking to ``server``."""
    transport = httpx.MockTransport(server)
    if request.param == "sync":
        with PaycheckClient(BASE_URL, transport=transport) as client:
            yield Twin(client)
    else:
        async with AsyncPaycheckClient(BASE_URL, transport=transport) as async_client:
            yield Twin(async_client)


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class ValidatorTwin:
    """One of the two validators, driven the same way: ``await twin.validate(token, method)``."""

    def __init__(self, validator: TokenValidator | AsyncTokenValidator) -> None:
        self.validator = validator

    async def validate(self, token: Any, method: str = "getInfo") -> AccessDecision:
        result = self.validator.validate(token, method)
        if inspect.isawaitable(result):
            return await result
        return result

    def invalidate(self, token: str) -> None:
        self.validator.invalidate(token)

    @property
    def stats(self) -> ValidatorStats:
        return self.validator.stats


@pytest.fixture(params=["sync", "async"])
async def make_validator(
    request: pytest.FixtureRequest, server: FakeServer, clock: FakeClock
) -> AsyncIterator[Callable[..., ValidatorTwin]]:
    """A factory of each validator in turn, asking ``server`` and reading ``clock``."""
    transport = httpx.MockTransport(server)
    sync_client = PaycheckClient(BASE_URL, transport=transport)
    async_client = AsyncPaycheckClient(BASE_URL, transport=transport)

    def make(**options: Any) -> ValidatorTwin:
        options.setdefault("clock", clock)
        # The cache's own rules; tests/core/test_feed*.py test the feed's.
        options.setdefault("follow", False)
        if request.param == "sync":
            return ValidatorTwin(TokenValidator(sync_client, Contract.SERVICE, **options))
        return ValidatorTwin(AsyncTokenValidator(async_client, Contract.SERVICE, **options))

    yield make
    sync_client.close()
    await async_client.aclose()


# --- the token-event feed's tests (tests/core/feeds.py) -------------------------------------


@pytest.fixture(params=["thread", "task"])
def payments(request: pytest.FixtureRequest) -> AnyPayments:
    """The scripted payment server, for the thread of one validator and the task of the other."""
    return SyncPayments() if request.param == "thread" else AsyncPayments()


@pytest.fixture
async def make(payments: AnyPayments, clock: FakeClock) -> AsyncIterator[Callable[..., Followed]]:
    """A factory of validators asking ``payments``, all closed after the test."""
    made: list[Followed] = []

    def make(**options: Any) -> Followed:
        options.setdefault("clock", clock)
        followed = Followed(payments.validator(**options))
        made.append(followed)
        return followed

    yield make
    payments.shut()
    for followed in made:
        await followed.close()
