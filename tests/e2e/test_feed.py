"""The token-event feed of real ``paycheck-server`` processes.

Replicas on one database (two processes on one SQLite file, two on PostgreSQL) stream each
other's events; ``paycheck-server revoke`` with every server down still reaches followers
once a server is back; a server with followers stops at once on SIGTERM and SIGINT.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from paycheck_core import tokens

from .conftest import LiveServer

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 15.0


class Follower:
    """A ``GET /token/events`` stream read by a thread into a queue."""

    def __init__(self, url: str, service: str, last_event_id: str | None) -> None:
        self._queue: queue.Queue[ServerSentEvent | None] = queue.Queue()
        self._connected = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(WAIT_SECONDS, read=None))
        headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        self._thread = threading.Thread(
            target=self._read, args=(url, service, headers), daemon=True
        )
        self._thread.start()

    def _read(self, url: str, service: str, headers: dict[str, str]) -> None:
        try:
            with connect_sse(
                self._client,
                "GET",
                f"{url}/token/events",
                params={"service": service},
                headers=headers,
            ) as source:
                for message in source.iter_sse():
                    self._queue.put(message)
        except httpx.HTTPError:
            pass
        finally:
            self._queue.put(None)

    def next(self) -> ServerSentEvent:
        message = self._queue.get(timeout=WAIT_SECONDS)
        assert message is not None, "the stream ended"
        return message

    def next_of(self, kind: str) -> ServerSentEvent:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            message = self.next()
            if message.event == kind:
                return message
        raise AssertionError(f"no {kind} message in {WAIT_SECONDS} s")

    def ended(self) -> None:
        """Wait for the stream to end (the server closed it)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while self._queue.get(timeout=max(deadline - time.monotonic(), 0.01)) is not None:
            pass

    def close(self) -> None:
        self._client.close()


@contextmanager
def follow(
    server: LiveServer, service: str = "Weather", last_event_id: str | None = None
) -> Iterator[Follower]:
    follower = Follower(server.url, service, last_event_id)
    try:
        yield follower
    finally:
        follower.close()


def paid_token(server: LiveServer) -> tuple[str, str]:
    day = datetime.now(UTC).date().isoformat()
    bill = httpx.post(
        f"{server.url}/bill",
        json={"serviceName": "Weather", "dateFrom": day, "dateTo": day},
        timeout=30,
    )
    artifact = bill.json()["paymentArtifact"]
    paid = httpx.post(f"{server.url}/pay", json={"paymentArtifact": artifact}, timeout=30)
    return artifact, paid.json()["token"]


def reset(server: LiveServer, artifact: str) -> None:
    answer = httpx.post(f"{server.url}/token/reset", json={"paymentArtifact": artifact}, timeout=30)
    assert answer.status_code == 200, answer.text


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_replicas(
    request: pytest.FixtureRequest, live_server_factory: Callable[..., LiveServer]
) -> tuple[LiveServer, LiveServer]:
    """Two server processes on one database: a SQLite file, or a fresh PostgreSQL one."""
    if request.param == "postgres":
        first = live_server_factory(database_url=request.getfixturevalue("postgres_url"))
    else:
        first = live_server_factory()
    return first, live_server_factory(database_url=first.database_url)


def test_an_event_written_by_one_replica_reaches_the_followers_of_the_other(
    two_replicas: tuple[LiveServer, LiveServer],
) -> None:
    writer, reader = two_replicas
    artifact, token = paid_token(writer)

    with follow(reader) as follower:
        follower.next_of("heartbeat")
        reset(writer, artifact)
        message = follower.next_of("deactivated")

    assert message.json()["tokenDigest"] == tokens.digest(token)
    assert message.json()["reason"] == "reset"


def test_a_revoke_with_the_server_down_reaches_followers_once_it_is_back(
    live_server: LiveServer,
) -> None:
    _, token = paid_token(live_server)
    with follow(live_server) as follower:
        head = follower.next_of("heartbeat").json()["lastEventId"]
    live_server.stop()

    revoked = live_server.cli("revoke", "--token", token)
    live_server.start()
    with follow(live_server, last_event_id=str(head)) as follower:
        message = follower.next_of("deactivated")

    assert revoked.returncode == 0, revoked.stderr
    assert message.json()["tokenDigest"] == tokens.digest(token)
    assert message.json()["reason"] == "revoked"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_server_with_followers_stops_at_once(
    live_server: LiveServer, signum: signal.Signals
) -> None:
    with follow(live_server) as first, follow(live_server, "Online marketplace") as second:
        first.next_of("heartbeat")
        second.next_of("heartbeat")
        started = time.monotonic()

        live_server.signal(signum)  # returns once the process has exited

        stopped_after = time.monotonic() - started
        first.ended()
        second.ended()
    # Uvicorn waits for open responses before it stops: without ending the streams it would
    # wait until killed.
    assert stopped_after < 5
    assert "ASGI callable returned without completing response" not in live_server.log_text()
