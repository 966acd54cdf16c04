"""The feed's messages and state with no I/O: parsing, backoff, health, resumption."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from paycheck_core._feed_core import (
    ABSENT_RETRY,
    MAX_BACKOFF,
    _backoff,
    _Deactivation,
    _FeedAbsent,
    _FeedCore,
    _FeedProtocolError,
    _FeedUnavailable,
    _Heartbeat,
    _parse_message,
    _Reset,
)

from .conftest import FakeClock

DIGEST = hashlib.sha256(b"pct_x").hexdigest()


class Sink:
    """A cache that records what the feed told it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def _feed_alive(self, until: float) -> None:
        self.calls.append(("alive", until))

    def _feed_covers(self) -> None:
        self.calls.append(("covers",))

    def _feed_deactivated(self, digest: bytes, refuse_at: float, reason: str) -> None:
        self.calls.append(("deactivated", digest.hex(), refuse_at, reason))

    def _feed_reset(self) -> None:
        self.calls.append(("reset",))

    def _feed_available(self, available: bool) -> None:
        self.calls.append(("available", available))

    def without_alive(self) -> list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] != "alive"]


def core_with(clock: FakeClock, **options: Any) -> tuple[_FeedCore, Sink]:
    sink = Sink()
    return _FeedCore("Weather", sink, clock, **options), sink


def deactivation(stops_at: str = "2026-11-30T13:00:05Z", **fields: Any) -> str:
    body = {"service": "Weather", "tokenDigest": DIGEST, "stopsAt": stops_at, "reason": "revoked"}
    body.update(fields)
    return json.dumps(body)


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stops_at", "posix"),
    [
        ("2026-11-30T13:00:05Z", 1796043605.0),
        ("2026-11-30T13:00:05.25Z", 1796043605.25),
        ("2026-11-30T14:00:05+01:00", 1796043605.0),
        ("2026-11-30T13:00:05.123456789Z", 1796043605.123456),
    ],
)
def test_a_deactivation_is_read_with_its_instant(stops_at: str, posix: float) -> None:
    message = _parse_message("deactivated", deactivation(stops_at))

    assert message == _Deactivation(
        "Weather", bytes.fromhex(DIGEST), pytest.approx(posix), "revoked"
    )


@pytest.mark.parametrize(
    "data",
    [
        "",
        "[]",
        deactivation(service=None),
        deactivation(tokenDigest=DIGEST.upper()),
        deactivation(tokenDigest=DIGEST[:-1]),
        deactivation(tokenDigest=None),
        deactivation("2026-11-30T13:00:05"),  # no offset: whose clock?
        deactivation("2026-11-30"),
        deactivation("tomorrow"),
        deactivation(None),
    ],
)
def test_a_deactivation_that_breaks_the_contract_is_a_protocol_error(data: str) -> None:
    with pytest.raises(_FeedProtocolError):
        _parse_message("deactivated", data)


def test_an_unknown_reason_still_deactivates() -> None:
    message = _parse_message("deactivated", deactivation(reason="expelled"))

    assert isinstance(message, _Deactivation)


def test_a_heartbeat_is_read_leniently() -> None:
    full = '{"lastEventId": 41, "serverTime": "2026-11-30T13:00:00Z", "heartbeatSeconds": 2.5}'
    garbled = '{"lastEventId": -1, "serverTime": "noon", "heartbeatSeconds": true}'

    assert _parse_message("heartbeat", full) == _Heartbeat(41, 1796043600.0, 2.5)
    assert _parse_message("heartbeat", garbled) == _Heartbeat(None, None, None)
    assert _parse_message("heartbeat", "not json") == _Heartbeat(None, None, None)


def test_a_reset_names_the_id_the_stream_goes_on_from() -> None:
    assert _parse_message("reset", '{"lastEventId": 97}') == _Reset(97)


@pytest.mark.parametrize("event", ["message", "ping", "Deactivated"])
def test_a_message_of_another_kind_is_skipped(event: str) -> None:
    assert _parse_message(event, deactivation()) is None


# --- backoff -----------------------------------------------------------------------------------


def test_the_first_retry_is_fast_and_later_ones_back_off_to_five_seconds() -> None:
    lowest = [_backoff(failures, lambda: 0.0) for failures in range(1, 10)]
    highest = [_backoff(failures, lambda: 0.999999) for failures in range(1, 10)]

    assert highest[0] <= 0.1
    assert lowest == sorted(lowest)
    assert lowest[1] == 2 * lowest[0]
    assert max(highest) == pytest.approx(MAX_BACKOFF, rel=1e-5)
    assert all(low >= high / 2 - 1e-9 for low, high in zip(lowest, highest, strict=True))


def test_failures_back_off_and_a_message_starts_the_backoff_over(clock: FakeClock) -> None:
    core, _ = core_with(clock, rand=lambda: 0.0)

    delays = [core.failed(OSError("down")) for _ in range(3)]
    core.opened(200, "text/event-stream")
    core.received("heartbeat", "{}", "")
    after = core.failed(None)

    assert delays == [0.05, 0.1, 0.2]
    assert after == 0.05


def test_a_server_error_is_retried_and_a_refusal_means_no_feed(clock: FakeClock) -> None:
    core, sink = core_with(clock)

    for status in (500, 503, 408, 429):
        with pytest.raises(_FeedUnavailable):
            core.opened(status, "application/json")
    for status, content_type in ((404, ""), (400, "application/json"), (200, "text/html")):
        with pytest.raises(_FeedAbsent) as refused:
            core.opened(status, content_type)
        assert core.failed(refused.value) == ABSENT_RETRY

    assert sink.calls == [("available", False)]
    core.opened(200, "text/event-stream; charset=utf-8")
    assert sink.calls == [("available", False), ("available", True)]


# --- the messages' meaning ---------------------------------------------------------------------


def test_a_fresh_stream_covers_from_its_first_message_and_resumes_after_its_head(
    clock: FakeClock,
) -> None:
    core, sink = core_with(clock)

    assert core.connecting() == {}
    core.opened(200, "text/event-stream")
    core.received("heartbeat", '{"lastEventId": 40, "heartbeatSeconds": 2}', "")
    core.received("heartbeat", '{"lastEventId": 45}', "")  # later heads are not resume points

    assert sink.without_alive() == [("covers",)]
    assert core.connecting() == {"Last-Event-ID": "40"}


def test_a_resumed_stream_does_not_start_a_new_coverage(clock: FakeClock) -> None:
    core, sink = core_with(clock)
    core.last_event_id = 12

    core.opened(200, "text/event-stream")
    core.received("heartbeat", '{"lastEventId": 40}', "")

    assert sink.without_alive() == []
    assert core.last_event_id == 12


def test_a_deactivation_is_placed_on_the_server_s_clock(clock: FakeClock) -> None:
    core, sink = core_with(clock, wall=lambda: 0.0)
    core.opened(200, "text/event-stream")
    core.received("heartbeat", '{"serverTime": "2026-11-30T13:00:00Z"}', "")
    clock.advance(2)

    core.received("deactivated", deactivation("2026-11-30T13:00:05Z"), "41")

    assert sink.without_alive()[-1] == (
        "deactivated",
        DIGEST,
        clock.now + 3,
        "The token was revoked.",
    )
    assert (core.last_event_id, core.events_received) == (41, 1)


def test_health_lasts_three_heartbeat_intervals(clock: FakeClock) -> None:
    core, sink = core_with(clock)
    core.opened(200, "text/event-stream")

    core.received("heartbeat", '{"heartbeatSeconds": 4}', "")

    assert sink.calls[-1] == ("alive", clock.now + 12)
    assert core.healthy(clock.now + 11.99)
    assert not core.healthy(clock.now + 12)
    assert core.read_timeout() == 12
