"""Validators follow the token-event feed: events refuse tokens, a reset drops the cache.

Every test runs with both validators: the thread of :class:`TokenValidator` and the task of
:class:`AsyncTokenValidator`, against the scripted feed of :mod:`tests.core.feeds`. The clock is
the fake one of the cache's tests; the server's clock is :data:`~tests.core.feeds.SERVER_TIME`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from paycheck_core import FeedStats, tokens

from .conftest import FakeClock
from .feeds import (
    SERVER_TIME,
    SERVICE,
    AnyPayments,
    Followed,
    connect,
    deactivated,
    heartbeat,
    reset,
    until,
)

TOKEN = tokens.generate_token()


# --- following by default ----------------------------------------------------------------------


async def test_a_validator_follows_its_service_s_feed_from_its_first_validation(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()

    assert (await followed.validate(TOKEN)).allowed
    connection = await payments.connection()

    assert connection.request.method == "GET"
    assert connection.request.url.path == "/token/events"
    assert connection.request.url.params["service"] == SERVICE
    assert connection.request.headers["accept"] == "text/event-stream"
    assert "last-event-id" not in connection.request.headers


async def test_follow_false_makes_no_stream_request(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make(follow=False)

    await followed.validate(TOKEN)
    await followed.start_feed()
    await followed.validate(tokens.generate_token())

    assert payments.streams == []
    assert followed.validator._feed is None
    assert followed.stats.feed is None


async def test_ttl_is_an_hour_when_following_and_five_minutes_without(
    make: Callable[..., Followed],
) -> None:
    assert make().validator.ttl == 3600
    assert make(follow=False).validator.ttl == 300
    assert make(ttl=120).validator.ttl == make(ttl=120, follow=False).validator.ttl == 120


@pytest.mark.parametrize("bad", [-1, 3601])
def test_max_staleness_out_of_range_is_a_value_error(payments: AnyPayments, bad: float) -> None:
    with pytest.raises(ValueError, match="max_staleness must be between 0 and 3600"):
        payments.validator(max_staleness=bad)


async def test_stats_show_the_feed(make: Callable[..., Followed], payments: AnyPayments) -> None:
    followed = make()
    connection = await connect(followed, payments, head=40)

    await connection.send(deactivated(41, tokens.generate_token()))

    assert followed.stats.feed == FeedStats(
        available=True,
        connected=True,
        healthy=True,
        last_event_id=41,
        lag_seconds=0.0,
        events_received=1,
        reconnects=0,
        heartbeat_seconds=2.0,
    )


# --- deactivations ---------------------------------------------------------------------------


@pytest.mark.parametrize("stops_in", [-30.0, 0.0], ids=["in-the-past", "now"])
async def test_a_deactivation_refuses_a_cached_token_at_once_without_asking(
    make: Callable[..., Followed], payments: AnyPayments, stops_in: float
) -> None:
    followed = make()
    connection = await connect(followed, payments)
    assert (await followed.validate(TOKEN)).allowed

    await connection.send(deactivated(1, TOKEN, stops_in=stops_in))
    decision = await followed.validate(TOKEN)

    assert (decision.allowed, decision.status) == (False, 401)
    assert decision.reason == "The token was revoked."
    assert len(payments.checks) == 1
    assert followed.cached(TOKEN) == decision  # kept as a denial


async def test_a_deactivation_in_the_future_refuses_the_token_from_its_stops_at(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make()
    connection = await connect(followed, payments)
    assert (await followed.validate(TOKEN)).allowed

    await connection.send(deactivated(1, TOKEN, stops_in=10, reason="reset"))
    served = []
    for step in (4.0, 4.0, 1.9, 0.1):  # heartbeats keep the feed healthy meanwhile
        clock.advance(step)
        await connection.send(heartbeat())
        served.append((await followed.validate(TOKEN)).allowed)

    assert served == [True, True, True, False]
    assert len(payments.checks) == 1
    assert followed.cached(TOKEN) is not None
    assert "reset" in (followed.cached(TOKEN).reason or "")  # type: ignore[union-attr]


async def test_stops_at_is_read_on_the_server_s_clock(
    make: Callable[..., Followed], payments: AnyPayments, clock: FakeClock
) -> None:
    followed = make()
    connection = await connect(followed, payments)  # the server says it is SERVER_TIME
    assert (await followed.validate(TOKEN)).allowed
    clock.advance(3)

    # Three seconds later by our clock the server is at SERVER_TIME + 3 s: a stop at + 5 s
    # is two seconds away, whatever this machine's own clock says.
    await connection.send(deactivated(1, TOKEN, now=SERVER_TIME + timedelta(seconds=5)))
    clock.advance(1.9)
    before = await followed.validate(TOKEN)
    clock.advance(0.1)
    after = await followed.validate(TOKEN)

    assert (before.allowed, after.allowed) == (True, False)


async def test_a_deactivated_token_missing_from_the_cache_is_refused_without_asking(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    connection = await connect(followed, payments)

    await connection.send(deactivated(1, TOKEN, reason="replaced"))
    decision = await followed.validate(TOKEN, "getStats")

    assert (decision.allowed, decision.status, decision.method) == (False, 401, "getStats")
    assert payments.checks == []


@pytest.mark.parametrize(
    ("stops_in", "allowed_at_once"), [(0.0, False), (10.0, True)], ids=["stops-now", "stops-later"]
)
async def test_a_check_in_flight_when_the_event_arrives_cannot_cache_the_token_past_stops_at(
    make: Callable[..., Followed],
    payments: AnyPayments,
    clock: FakeClock,
    stops_in: float,
    allowed_at_once: bool,
) -> None:
    # The payment server answered "allowed" just before the token was revoked; the answer
    # reaches the validator after the event did.
    followed = make()
    connection = await connect(followed, payments)
    payments.hold()
    validation = asyncio.ensure_future(followed.validate(TOKEN))
    await payments.check_arrived()

    await connection.send(deactivated(1, TOKEN, stops_in=stops_in))
    payments.release()
    decision = await validation

    assert decision.allowed is allowed_at_once
    clock.advance(stops_in)
    await connection.send(heartbeat())
    later = await followed.validate(TOKEN)
    assert (later.allowed, later.status) == (False, 401)
    assert len(payments.checks) == 1


async def test_an_event_of_another_service_is_skipped(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    connection = await connect(followed, payments)
    await followed.validate(TOKEN)

    await connection.send(deactivated(7, TOKEN, service="Weather"))

    assert (await followed.validate(TOKEN)).allowed
    assert followed.stats.feed is not None
    assert (followed.stats.feed.last_event_id, followed.stats.feed.events_received) == (7, 0)


async def test_a_reset_drops_the_whole_cache(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    connection = await connect(followed, payments, head=5)
    await followed.validate(TOKEN)
    await followed.validate(TOKEN, "getStats")

    await connection.send(reset(90))

    assert followed.stats.size == 0
    assert followed.cached(TOKEN) is None
    assert (await followed.validate(TOKEN)).allowed
    assert len(payments.checks) == 3
    assert followed.stats.feed is not None
    assert followed.stats.feed.last_event_id == 90


async def test_an_answer_asked_for_before_a_reset_is_given_but_not_kept(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    connection = await connect(followed, payments)
    payments.hold()
    validation = asyncio.ensure_future(followed.validate(TOKEN))
    await payments.check_arrived()

    await connection.send(reset(90))
    payments.release()

    assert (await validation).allowed
    assert followed.stats.size == 0


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        '{"service": "Online marketplace", "tokenDigest": "ABC", "stopsAt": "2026-11-30T13:00Z"}',
        '{"service": "Online marketplace", "tokenDigest": "' + "a" * 64 + '", "stopsAt": "soon"}',
    ],
    ids=["not-json", "bad-digest", "bad-stops-at"],
)
async def test_a_deactivation_that_cannot_be_read_drops_the_whole_cache(
    make: Callable[..., Followed], payments: AnyPayments, data: str
) -> None:
    followed = make()
    connection = await connect(followed, payments)
    await followed.validate(TOKEN)

    await connection.send(f"event: deactivated\nid: 3\ndata: {data}\n\n")

    assert followed.stats.size == 0
    assert followed.stats.feed is not None
    assert followed.stats.feed.healthy


# --- reconnecting ------------------------------------------------------------------------------


async def test_the_follower_resumes_after_the_last_event_it_applied(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    connection = await connect(followed, payments, head=40)
    await connection.send(deactivated(41, tokens.generate_token()), heartbeat(45))

    await connection.end()
    again = await payments.connection()

    assert again.request.headers["last-event-id"] == "41"
    assert followed.stats.feed is not None
    assert followed.stats.feed.reconnects == 1


async def test_a_fresh_stream_resumes_after_the_head_its_first_heartbeat_named(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    connection = await connect(followed, payments, head=40)

    await connection.end()
    again = await payments.connection()

    assert again.request.headers["last-event-id"] == "40"


@pytest.mark.parametrize("failure", ["connect-error", "503", "429"])
async def test_the_follower_reconnects_after_a_failure(
    make: Callable[..., Followed], payments: AnyPayments, failure: str
) -> None:
    followed = make()
    await followed.start_feed()
    first = await payments.connection()
    if failure == "connect-error":
        await first.fail()
    else:
        await first.refuse(int(failure))

    for _ in range(2):  # one failure after another: the follower never gives up
        await (await payments.connection()).refuse(503)
    last = await payments.connection()
    await last.accept()
    await last.send(heartbeat(3))

    feed = followed.stats.feed
    assert feed is not None
    assert (feed.available, feed.connected, feed.healthy, feed.reconnects) == (
        True,
        True,
        True,
        3,
    )


@pytest.mark.parametrize(
    ("status", "content_type"),
    [(404, "application/json"), (405, "text/plain"), (200, "text/html")],
    ids=["404", "405", "200-html"],
)
async def test_a_server_without_a_feed_gets_the_rules_of_follow_false(
    make: Callable[..., Followed],
    payments: AnyPayments,
    clock: FakeClock,
    status: int,
    content_type: str,
) -> None:
    followed = make()
    await followed.start_feed()
    connection = await payments.connection()
    await connection.refuse(status, content_type)
    await until(lambda: followed.stats.feed is not None and not followed.stats.feed.available)

    assert (await followed.validate(TOKEN)).allowed
    clock.advance(299.9)  # no staleness rule: the answer lives min(ttl=300, max-age=300)
    assert (await followed.validate(TOKEN)).allowed
    assert followed.validator.ttl == 300
    assert len(payments.checks) == 1
    clock.advance(0.1)
    assert (await followed.validate(TOKEN)).allowed
    assert len(payments.checks) == 2


# --- stopping ----------------------------------------------------------------------------------


async def test_close_stops_the_follower(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    await connect(followed, payments)
    assert followed.following()

    await followed.close()

    assert not followed.following()


async def test_close_stops_a_follower_waiting_to_reconnect(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()
    await followed.start_feed()
    await (await payments.connection()).refuse(404)  # the next attempt is a minute away
    await until(lambda: followed.stats.feed is not None and not followed.stats.feed.available)

    await followed.close()

    assert not followed.following()


async def test_a_closed_validator_does_not_follow_again(
    make: Callable[..., Followed], payments: AnyPayments
) -> None:
    followed = make()  # its client was given: it stays open
    await followed.close()

    await followed.start_feed()
    assert (await followed.validate(TOKEN)).allowed

    assert not followed.following()
    assert payments.streams == []
