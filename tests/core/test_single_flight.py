"""Single-flight: concurrent misses on one key make one upstream call, for tasks and threads.

The upstream blocks until every caller is waiting, so that the calls truly overlap; the
tests count the requests the payment server received.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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

BASE_URL = "http://payments.test"
SERVICE = "Online marketplace"
TASKS = 200
THREADS = 32
PATIENCE = 10.0  # seconds a blocked upstream waits before failing the test instead of hanging


def granted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"allowed": True, "serviceName": SERVICE, "methodName": "getInfo"}
    )


class AsyncUpstream:
    """A payment server that holds every answer until released."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] = granted) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []
        self.release = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        await asyncio.wait_for(self.release.wait(), PATIENCE)
        return self.answer(request)


class ThreadUpstream:
    """The blocking twin of :class:`AsyncUpstream`."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] = granted) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()
        self.release = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        assert self.release.wait(PATIENCE), "the test never released the upstream"
        return self.answer(request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition`` holds (every caller is waiting)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the tasks never got there")


def until_in_thread(condition: Callable[[], bool]) -> None:
    released = threading.Event()
    for _ in range(10_000):
        if condition():
            return
        released.wait(0.001)
    raise AssertionError("the threads never got there")


def async_validator(upstream: AsyncUpstream) -> AsyncTokenValidator:
    client = AsyncPaycheckClient(BASE_URL, transport=httpx.MockTransport(upstream))
    return AsyncTokenValidator(client, SERVICE, follow=False)


def thread_validator(upstream: ThreadUpstream) -> TokenValidator:
    client = PaycheckClient(BASE_URL, transport=httpx.MockTransport(upstream))
    return TokenValidator(client, SERVICE, follow=False)


# --- asyncio ---------------------------------------------------------------------------------


async def test_concurrent_tasks_on_one_cold_token_make_one_call_and_share_its_answer() -> None:
    upstream = AsyncUpstream()
    validator = async_validator(upstream)
    token = tokens.generate_token()

    tasks = [asyncio.create_task(validator.validate(token, "getInfo")) for _ in range(TASKS)]
    await until(lambda: validator.stats.misses == TASKS)
    upstream.release.set()
    decisions = await asyncio.gather(*tasks)

    assert len(upstream.requests) == 1
    assert all(decision.allowed for decision in decisions)
    assert len(set(decisions)) == 1
    assert validator.stats.upstream_calls == 1


async def test_concurrent_tasks_on_distinct_tokens_make_one_call_each() -> None:
    upstream = AsyncUpstream()
    validator = async_validator(upstream)
    distinct = [tokens.generate_token() for _ in range(8)]

    tasks = [
        asyncio.create_task(validator.validate(token, "getInfo"))
        for token in distinct * (TASKS // len(distinct))
    ]
    await until(lambda: validator.stats.misses == TASKS)
    upstream.release.set()
    await asyncio.gather(*tasks)

    assert sorted(json.loads(request.content)["token"] for request in upstream.requests) == sorted(
        distinct
    )
    assert validator.stats.upstream_calls == len(distinct)


async def test_a_failure_reaches_every_waiting_task_and_is_not_cached() -> None:
    upstream = AsyncUpstream(refused)
    validator = async_validator(upstream)
    token = tokens.generate_token()

    tasks = [asyncio.create_task(validator.validate(token, "getInfo")) for _ in range(TASKS)]
    await until(lambda: validator.stats.misses == TASKS)
    upstream.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(outcome, PaymentServiceUnavailable) for outcome in outcomes)
    assert len(upstream.requests) == 1
    upstream.answer = granted
    assert (await validator.validate(token, "getInfo")).allowed
    assert len(upstream.requests) == 2


@pytest.mark.parametrize("cancelled", [0, 1], ids=["the-first-caller", "a-later-caller"])
async def test_a_cancelled_task_does_not_cancel_the_call_the_others_wait_for(
    cancelled: int,
) -> None:
    upstream = AsyncUpstream()
    validator = async_validator(upstream)
    token = tokens.generate_token()
    tasks = [asyncio.create_task(validator.validate(token, "getInfo")) for _ in range(3)]
    await until(lambda: validator.stats.misses == 3)

    tasks[cancelled].cancel()
    upstream.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(outcomes[cancelled], asyncio.CancelledError)
    survivors = [outcome for i, outcome in enumerate(outcomes) if i != cancelled]
    assert all(isinstance(o, AccessDecision) and o.allowed for o in survivors)
    assert len(upstream.requests) == 1
    assert (await validator.validate(token, "getInfo")).allowed
    assert len(upstream.requests) == 1


async def test_the_answer_is_cached_even_when_every_waiter_was_cancelled() -> None:
    upstream = AsyncUpstream()
    validator = async_validator(upstream)
    token = tokens.generate_token()
    task = asyncio.create_task(validator.validate(token, "getInfo"))
    await until(lambda: len(upstream.requests) == 1)

    task.cancel()
    upstream.release.set()
    await until(lambda: validator.stats.size == 1)

    assert (await validator.validate(token, "getInfo")).allowed
    assert len(upstream.requests) == 1


# --- threads -----------------------------------------------------------------------------------


def run_in_threads(validator: TokenValidator, tokens_: list[str], release: Any) -> list[Any]:
    """Validate each token in its own thread; release the upstream once all are waiting."""

    def validate(token: str) -> Any:
        try:
            return validator.validate(token, "getInfo")
        except Exception as exc:  # the outcome, raised or returned, is what the test checks
            return exc

    with ThreadPoolExecutor(max_workers=len(tokens_)) as pool:
        futures = [pool.submit(validate, token) for token in tokens_]
        until_in_thread(lambda: validator.stats.misses == len(tokens_))
        release.set()
        return [future.result() for future in futures]


def test_concurrent_threads_on_one_cold_token_make_one_call_and_share_its_answer() -> None:
    upstream = ThreadUpstream()
    validator = thread_validator(upstream)
    token = tokens.generate_token()

    decisions = run_in_threads(validator, [token] * THREADS, upstream.release)

    assert len(upstream.requests) == 1
    assert all(isinstance(d, AccessDecision) and d.allowed for d in decisions)
    assert validator.stats.upstream_calls == 1
    assert validator.validate(token, "getInfo").allowed
    assert len(upstream.requests) == 1


def test_concurrent_threads_on_distinct_tokens_make_one_call_each() -> None:
    upstream = ThreadUpstream()
    validator = thread_validator(upstream)
    distinct = [tokens.generate_token() for _ in range(4)]

    run_in_threads(validator, distinct * (THREADS // len(distinct)), upstream.release)

    assert len(upstream.requests) == len(distinct)
    assert validator.stats.upstream_calls == len(distinct)


def test_a_failure_reaches_every_waiting_thread_and_is_not_cached() -> None:
    upstream = ThreadUpstream(refused)
    validator = thread_validator(upstream)
    token = tokens.generate_token()

    outcomes = run_in_threads(validator, [token] * THREADS, upstream.release)

    assert all(isinstance(outcome, PaymentServiceUnavailable) for outcome in outcomes)
    assert len({id(outcome) for outcome in outcomes}) == THREADS  # each thread its own copy
    assert len(upstream.requests) == 1
    upstream.answer = granted
    assert validator.validate(token, "getInfo").allowed
    assert len(upstream.requests) == 2
