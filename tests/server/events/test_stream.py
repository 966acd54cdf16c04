"""GET /token/events: framing, per-service events, resume, reset, heartbeats, bad input."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from paycheck_core import tokens
from paycheck_server.cli import main as server_cli

from .conftest import HEARTBEAT_SECONDS, Served

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


async def paid(served: Served, service: str = "Online marketplace") -> tuple[str, str]:
    artifact = await served.api.artifact(service=service)
    response = await served.api.pay(artifact)
    assert response.status_code == 200, response.text
    return artifact, response.json()["token"]


async def test_the_stream_is_sse_that_proxies_do_not_buffer_and_starts_with_a_heartbeat(
    served: Served,
) -> None:
    async with served.follow() as follower:
        first = await follower.next()

    assert follower.response.status_code == 200
    assert follower.response.headers["content-type"].startswith("text/event-stream")
    assert follower.response.headers["cache-control"] == "no-cache"
    assert follower.response.headers["x-accel-buffering"] == "no"
    assert first.event == "heartbeat"
    assert first.retry == 1000
    data = first.json()
    assert data["lastEventId"] == 0
    assert data["heartbeatSeconds"] == HEARTBEAT_SECONDS
    assert data["serverTime"] == "2030-01-01T12:00:00Z"


@pytest.mark.parametrize("change", ["reset", "replaced", "revoked"])
async def test_every_deactivation_reaches_the_follower_with_digest_deadline_and_reason(
    served: Served, change: str
) -> None:
    artifact, token = await paid(served)
    async with served.follow() as follower:
        await follower.next_of("heartbeat")
        now = served.clock.now()
        if change == "reset":
            assert (await served.api.reset(artifact)).status_code == 200
        elif change == "replaced":
            assert (await served.api.pay(artifact)).status_code == 200
        else:
            # The command line, as an operator runs it, on the same database.
            url = served.runtime.settings.database_url
            await asyncio.to_thread(_run_cli, "revoke", "--token", token, "--database-url", url)
        message = await follower.next_of("deactivated")

    data = message.json()
    assert int(message.id) >= 1
    assert set(data) == {"service", "tokenDigest", "stopsAt", "reason"}
    assert data["service"] == "Online marketplace"
    assert data["tokenDigest"] == tokens.digest(token)
    assert re.fullmatch(r"[0-9a-f]{64}", data["tokenDigest"])
    assert RFC3339_UTC.fullmatch(data["stopsAt"])
    assert data["reason"] == change
    if change != "revoked":  # the command reads the system clock, not the test's
        grace = timedelta(seconds=served.runtime.settings.reset_grace_seconds)
        assert data["stopsAt"] == (now + grace).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert token not in message.data


async def deactivate(served: Served, service: str = "Online marketplace") -> str:
    """Pay a new bill and reset its token: one event, for the paid token; returns its digest."""
    artifact, token = await paid(served, service)
    assert (await served.api.reset(artifact)).status_code == 200
    return tokens.digest(token)


def _run_cli(*argv: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        server_cli(list(argv))
    assert exit_info.value.code == 0


async def test_a_follower_gets_only_its_services_events(served: Served) -> None:
    async with served.follow("Weather") as weather, served.follow() as market:
        first_market = await deactivate(served)
        only_weather = await deactivate(served, "Weather")
        second_market = await deactivate(served)

        weather_events = [(await weather.next_of("deactivated")).json()]
        market_events = [(await market.next_of("deactivated")).json() for _ in range(2)]
        # Heartbeats come after whatever was pending: nothing more for Weather.
        assert await weather.deactivations_until_heartbeat() == []

    assert [(e["service"], e["tokenDigest"]) for e in weather_events] == [("Weather", only_weather)]
    assert [(e["service"], e["tokenDigest"]) for e in market_events] == [
        ("Online marketplace", first_market),
        ("Online marketplace", second_market),
    ]


async def test_an_unknown_service_is_followed_without_events(served: Served) -> None:
    artifact, _ = await paid(served)
    async with served.follow("Not in the catalog yet") as follower:
        await served.api.reset(artifact)
        beats = [await follower.next() for _ in range(3)]

    assert [message.event for message in beats] == ["heartbeat"] * 3


async def test_resuming_replays_every_kept_event_after_last_event_id_in_order(
    served: Served,
) -> None:
    async with served.follow() as follower:
        for _ in range(3):
            await deactivate(served)
        seen = [await follower.next_of("deactivated") for _ in range(3)]
    missed = [await deactivate(served) for _ in range(2)]  # while nobody follows
    await deactivate(served, "Weather")

    async with served.follow(last_event_id=seen[0].id) as follower:
        heartbeat = await follower.next()
        replayed = await follower.deactivations_until_heartbeat()

    assert heartbeat.event == "heartbeat"
    assert heartbeat.json()["lastEventId"] == 6
    assert [event["id"] for event in replayed] == [2, 3, 4, 5]
    assert [event["tokenDigest"] for event in replayed] == [
        seen[1].json()["tokenDigest"],
        seen[2].json()["tokenDigest"],
        *missed,
    ]


async def test_the_query_parameter_resumes_when_no_header_is_sent(served: Served) -> None:
    await deactivate(served)
    await deactivate(served)

    async with served.follow(params={"lastEventId": "1"}) as follower:
        await follower.next()
        replayed = await follower.deactivations_until_heartbeat()
    async with served.follow(last_event_id="0", params={"lastEventId": "1"}) as follower:
        await follower.next()
        from_header = await follower.deactivations_until_heartbeat()

    assert [event["id"] for event in replayed] == [2]
    assert [event["id"] for event in from_header] == [1, 2]


async def test_id_zero_on_an_empty_log_resumes_without_a_reset(served: Served) -> None:
    async with served.follow(last_event_id="0") as follower:
        messages = [await follower.next() for _ in range(2)]

    assert [message.event for message in messages] == ["heartbeat", "heartbeat"]


async def test_without_last_event_id_the_stream_starts_at_the_head(served: Served) -> None:
    await deactivate(served)
    await deactivate(served)

    async with served.follow() as follower:
        first = await follower.next()
        assert await follower.deactivations_until_heartbeat() == []

    assert first.json()["lastEventId"] == 2


@pytest.mark.parametrize(
    "last_event_id",
    ["abc", "-1", "1.5", "+1", "1" * 30, "7"],
    ids=["letters", "negative", "decimal", "plus", "huge", "newer-than-the-newest"],
)
async def test_an_id_that_cannot_be_resumed_gets_a_reset_to_the_newest_id(
    served: Served, last_event_id: str
) -> None:
    await deactivate(served)
    await deactivate(served)

    async with served.follow(last_event_id=last_event_id) as follower:
        await follower.next()
        reset = await follower.next()
        await deactivate(served)
        live = await follower.next_of("deactivated")

    assert reset.event == "reset"
    assert reset.id == "2"
    assert reset.json()["lastEventId"] == 2
    assert "no longer kept" in reset.json()["description"]
    assert int(live.id) == 3


async def test_a_follower_behind_the_purged_events_gets_a_reset(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    served = await serve(feed_retention_seconds=60)
    for _ in range(3):
        await deactivate(served)
    served.clock.advance(seconds=61)
    await deactivate(served)
    await _purge(served)

    async with served.follow(last_event_id="1") as behind:
        await behind.next()
        reset = await behind.next()
    async with served.follow(last_event_id="3") as just_in_time:
        await just_in_time.next()
        kept = await just_in_time.deactivations_until_heartbeat()

    assert reset.event == "reset"
    assert reset.json() == {"description": "events after 1 are no longer kept", "lastEventId": 4}
    assert [event["id"] for event in kept] == [4]


async def _purge(served: Served) -> None:
    from paycheck_server.events import purge_events

    await purge_events(
        served.runtime.store.engine,
        now=served.clock.now(),
        retention_seconds=served.runtime.settings.feed_retention_seconds,
    )


async def test_heartbeats_come_every_interval(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    served = await serve(feed_heartbeat_seconds=0.25)
    loop = asyncio.get_running_loop()
    async with served.follow() as follower:
        arrivals = []
        for _ in range(6):
            assert (await follower.next(within=2)).event == "heartbeat"
            arrivals.append(loop.time())

    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert max(gaps) < 0.25 + 0.2
    assert sum(gaps) / len(gaps) == pytest.approx(0.25, abs=0.05)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "service is required"),
        ("?service=", "service: String should have at least 1 character"),
        ("?service=" + "x" * 201, "service: String should have at most 200 characters"),
    ],
    ids=["missing", "empty", "too-long"],
)
async def test_a_bad_service_is_a_400_with_a_description(
    served: Served, query: str, expected: str
) -> None:
    response = await served.http.get(f"/token/events{query}")

    assert response.status_code == 400
    assert response.json() == {"description": expected}


async def test_a_disabled_feed_is_a_404_saying_so(
    serve: Callable[..., Awaitable[Served]],
) -> None:
    served = await serve(feed_enabled=False)

    response = await served.http.get("/token/events", params={"service": "Weather"})

    assert response.status_code == 404
    assert response.json() == {"description": "The token-event feed is disabled on this server"}


async def test_streams_end_when_the_feed_closes(served: Served) -> None:
    async with served.follow() as first, served.follow("Weather") as second:
        await served.runtime.feed.aclose()

        assert {message.event for message in await first.ended()} <= {"heartbeat"}
        assert {message.event for message in await second.ended()} <= {"heartbeat"}
