"""Bounded staleness: an answer older than ``max_staleness`` is trusted only with a healthy feed.

The feed is healthy while a message arrived within 3 heartbeat intervals (2 s unless the
server says otherwise). A stale answer without a healthy feed is checked again; if the payment
server cannot be reached it is served anyway until it expires. Both validators, fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from paycheck_core import PaymentServiceUnavailable, _wire, tokens

from .conftest import FakeClock
from .feeds import AnyPayments, Followed, connect, heartbeat

TOKEN = tokens.generate_token()


async def asked(followed: Followed, payments: AnyPayments) -> bool:
    """Validate ``TOKEN``; whether that asked the payment server."""
    before = len(payments.checks)
    await followed.validate(TOKEN)
    return len(payments.checks) > before


# --- the feed's health -------------------------------------------------------------------------


@pytest.mark.parametrize(("interval", "window"), [(2, 6.0), (10, 30.0), (None, 6.0)])
async def test_the_feed_is_healthy_for_three_heartbeat_intervals_after_a_message(
    make: Callable[..., Followed],
    payments: AnyPayments,
    clock: FakeClock,
    interval: float | None,
    window: float,
) -> None:
    followed = make()
    await followed.start_feed()
    connection = await payments.connection()
    await connection.accept()
    assert followed.stats.feed is not None
    assert not followed.stats.feed.healthy  # no message yet

    await connection.send(heartbeat(interval=interval))
    clock.advance(window - 0.01)
    healthy_before = followed.stats.feed.healthy
    clock.advance(0.01)

    assert healthy_before
    assert not followed.stats.feed.healthy
    assert followed.stats.feed.lag_seconds == pytest.approx(window)


# --- staleness ---------------------------------------------------------------------------------


async def test_a_fresh_answer_is_served_without_a_feed(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make()  # its feed never answers
    assert await asked(followed, payments)

    clock.advance(4.99)

    assert not await asked(followed, payments)


async def test_a_stale_answer_is_served_while_the_feed_is_healthy(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make()
    connection = await connect(followed, payments)
    assert await asked(followed, payments)

    served = []
    for _ in range(50):  # 250 s of the max-age of 300 s, a heartbeat every 5 s
        clock.advance(5)
        await connection.send(heartbeat())
        served.append(not await asked(followed, payments))

    assert all(served)


async def test_a_stale_answer_is_checked_again_when_the_feed_is_silent(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make()
    await connect(followed, payments)
    assert await asked(followed, payments)

    clock.advance(6)  # three heartbeat intervals without a message

    assert await asked(followed, payments)
    assert not await asked(followed, payments)  # the new answer is fresh


async def test_an_answer_asked_for_before_the_feed_connected_is_not_covered_by_it(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    # A fresh stream starts at the head: events before it never come, so an answer from
    # before it is trusted only while fresh.
    followed = make()
    assert await asked(followed, payments)  # this also starts the follower
    connection = await payments.connection()
    await connection.accept()
    await connection.send(heartbeat())

    clock.advance(5)
    await connection.send(heartbeat())

    assert await asked(followed, payments)
    clock.advance(5)
    await connection.send(heartbeat())
    assert not await asked(followed, payments)  # asked for under the feed: trusted


async def test_a_stale_answer_is_served_until_it_expires_when_the_payment_server_is_down(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make()
    await connect(followed, payments)  # then silent: the feed is unhealthy from 6 s on
    await followed.validate(TOKEN)  # max-age=300

    payments.go_down()
    clock.advance(299.9)
    decision = await followed.validate(TOKEN)

    assert decision.allowed
    assert followed.stats.stale_hits == 1
    clock.advance(0.1)
    with pytest.raises(PaymentServiceUnavailable):
        await followed.validate(TOKEN)


@pytest.mark.parametrize("status", [401, 403])
async def test_a_stale_answer_checked_again_gives_the_server_s_denial(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock, status: int
) -> None:
    followed = make()
    await connect(followed, payments)
    await followed.validate(TOKEN)

    payments.deny(status)
    clock.advance(10)
    decision = await followed.validate(TOKEN)

    assert (decision.allowed, decision.status) == (False, status)
    assert (await followed.validate(TOKEN)).status == status  # the denial replaced the grant


async def test_without_the_feed_an_answer_is_never_stale(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make(follow=False)
    assert await asked(followed, payments)

    clock.advance(299.9)

    assert not await asked(followed, payments)


@pytest.mark.parametrize("max_staleness", [1, 30])
async def test_max_staleness_is_the_age_trusted_without_a_healthy_feed(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock, max_staleness: float
) -> None:
    followed = make(max_staleness=max_staleness)  # its feed never answers
    assert await asked(followed, payments)

    clock.advance(max_staleness - 0.01)
    assert not await asked(followed, payments)
    clock.advance(0.01)
    assert await asked(followed, payments)


# --- how long an allowed answer lives ------------------------------------------------------------


async def test_following_a_healthy_feed_an_answer_outlives_max_age_up_to_valid_for(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    payments.allow(**{"Cache-Control": "max-age=300", "Paycheck-Valid-For": "2000"})
    followed = make()
    await connect(followed, payments, interval=1000)  # healthy for 3000 s
    assert await asked(followed, payments)

    clock.advance(1999.9)
    assert not await asked(followed, payments)
    clock.advance(0.1)  # the end of the paid period
    assert await asked(followed, payments)


async def test_following_without_valid_for_an_answer_lives_its_max_age(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make()
    await connect(followed, payments, interval=1000)
    assert await asked(followed, payments)  # max-age=300

    clock.advance(299.9)
    assert not await asked(followed, payments)
    clock.advance(0.1)
    assert await asked(followed, payments)


@pytest.mark.parametrize(
    ("options", "lifetime"),
    [({"follow": False}, 300), ({"ttl": 1000}, 1000)],
    ids=["not-following", "ttl"],
)
async def test_valid_for_never_stretches_an_answer_past_max_age_or_ttl(
    make: Callable[..., Followed],
    payments: AnyPayments,
    clock: FakeClock,
    options: dict[str, Any],
    lifetime: float,
) -> None:
    payments.allow(**{"Cache-Control": "max-age=300", "Paycheck-Valid-For": "2000"})
    followed = make(**options)
    if followed.validator._feed is not None:
        await connect(followed, payments, interval=1000)
    assert await asked(followed, payments)

    clock.advance(lifetime - 0.1)
    assert not await asked(followed, payments)
    clock.advance(0.1)
    assert await asked(followed, payments)


@pytest.mark.parametrize(
    ("header", "valid_for"),
    [("86399", 86399), (" 5 ", 5), ("0", 0), ("-5", None), ("1.5", None), ("soon", None)],
)
def test_paycheck_valid_for_is_read_from_an_allowed_answer_only(
    header: str, valid_for: int | None
) -> None:
    def answer(status: int) -> httpx.Response:
        body = (
            {"allowed": True, "serviceName": "S", "methodName": "m"}
            if status == 200
            else {"description": "Invalid or expired token"}
        )
        request = httpx.Request("POST", "http://payments.test/token/check")
        headers = {"Paycheck-Valid-For": header}
        return httpx.Response(status, json=body, headers=headers, request=request)

    parse = _wire.check_token(TOKEN, "S", "m").parse

    assert parse(answer(200)).valid_for == valid_for
    assert parse(answer(401)).valid_for is None
