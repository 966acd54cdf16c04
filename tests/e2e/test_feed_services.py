"""The token-event feed end to end: real ``paycheck-server`` processes, real service processes.

Every service is a process of its own (``tests/e2e/feed_apps.py``: Starlette on uvicorn, FastAPI
on uvicorn, a bare WSGI app on a threaded server, Flask on werkzeug's threaded server), with a
validator made with ``ttl=3600``: without the feed, a cached grant would outlive any
deactivation by up to the server's max-age. Each test buys tokens, has every service cache a
grant, deactivates a token and then calls every service every 50 ms until it is refused,
failing after a deadline; the measured delays are asserted and printed (``pytest -s``).

A refusal that comes from the feed costs the service no call to the payment server: the tests
assert that too (``upstream_calls`` of the service's ``/stats``), so a refusal reached by
checking again cannot pass for the feed's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from paycheck_core import PaycheckClient

from .conftest import LiveServer, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APPS = Path(__file__).with_name("feed_apps.py")
SERVICE = "Online marketplace"
METHOD = "getInfo"
POLL = 0.05  # seconds between two calls while waiting for a refusal
DEADLINE = 5.0  # the feed's promise: every service refuses a deactivated token within this
START_LIMIT = 60.0


@dataclass
class Service:
    """A service process of ``feed_apps.py``."""

    kind: str
    follow: bool
    port: int
    process: subprocess.Popen[bytes]
    http: httpx.Client

    @property
    def name(self) -> str:
        return self.kind if self.follow else f"{self.kind} (follow=False)"

    def call(self, token: str) -> int:
        """``GET /getInfo`` with ``token``; the status."""
        headers = {"Authorization": f"Bearer {token}"}
        return self.http.get("/getInfo", headers=headers).status_code

    def stats(self) -> dict[str, Any]:
        """The validator's counters (``/stats``)."""
        response = self.http.get("/stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


@pytest.fixture
def start_services(tmp_path: Path) -> Iterator[Callable[..., list[Service]]]:
    """``start_services(server_url, kinds, follow=True)``: service processes, stopped after."""
    started: list[Service] = []

    def start(server_url: str, kinds: list[str], *, follow: bool = True) -> list[Service]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PAYCHECK_")}
        env["PAYCHECK_SERVER_URL"] = server_url
        batch = []
        for kind in kinds:
            port = free_port()
            log = tmp_path / f"{kind}-{port}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [sys.executable, str(APPS), kind, "--port", str(port)]
                    + ([] if follow else ["--no-follow"]),
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
            service = Service(kind, follow, port, process, http)
            started.append(service)
            batch.append(service)
        for service in batch:
            wait_listening(service, tmp_path)
        return batch

    yield start
    for service in started:
        service.http.close()
        if service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
            try:
                service.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()


def wait_listening(service: Service, logs: Path) -> None:
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            log = (logs / f"{service.kind}-{service.port}.log").read_text(errors="replace")
            pytest.fail(f"{service.kind} exited with {service.process.returncode}:\n{log}")
        try:
            service.stats()
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    pytest.fail(f"{service.kind} did not listen within {START_LIMIT:g} s")


def buy(server_url: str) -> tuple[str, str]:
    """A paid token for getInfo today: ``(token, payment artifact)``."""
    with PaycheckClient(server_url) as client:
        today = datetime.now(UTC).date()
        bill = client.create_bill(SERVICE, today, today, [METHOD])
        return client.pay(bill.payment_artifact).token, bill.payment_artifact


def wait_for(condition: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {limit:g} s")
        time.sleep(POLL)


def following(services: list[Service], server_url: str) -> None:
    """Have each following service open its feed (started by a first validation) and connect.

    A warm-up token starts the feed; the grants the test then caches are asked for after the
    stream opened, so the feed covers them.
    """
    warm_up, _ = buy(server_url)
    for service in services:
        assert service.call(warm_up) == 200, service.name
    for service in services:
        if service.follow:
            wait_for(lambda service=service: _connected(service.stats()), f"{service.name}'s feed")


def _connected(stats: dict[str, Any]) -> bool:
    feed = stats["feed"]
    return bool(feed and feed["connected"] and feed["last_event_id"] is not None)


def cache(services: list[Service], *tokens: str) -> None:
    """Each service checks each token once (a grant, now cached) and then hits its cache."""
    for service in services:
        for token in tokens:
            assert service.call(token) == 200, service.name
        before = service.stats()
        for token in tokens:
            assert service.call(token) == 200, service.name
        after = service.stats()
        assert after["upstream_calls"] == before["upstream_calls"], f"{service.name} cached"


def refusal_delays(
    services: list[Service], token: str, since: float, limit: float = DEADLINE
) -> dict[str, float]:
    """Call every service with ``token`` every 50 ms until each refuses it (401).

    Returns each service's first refusal, in seconds after ``since`` (``time.monotonic()``).
    Fails when one still lets it through ``limit`` seconds after ``since``.
    """
    delays: dict[str, float] = {}
    while len(delays) < len(services):
        for service in services:
            if service.name in delays:
                continue
            status = service.call(token)
            if status == 401:
                delays[service.name] = time.monotonic() - since
            else:
                assert status == 200, f"{service.name} answered {status}"
        late = time.monotonic() - since
        if len(delays) < len(services) and late > limit:
            waiting = sorted({service.name for service in services} - set(delays))
            pytest.fail(f"still let through {late:.2f} s later by {waiting}; refused: {delays}")
        time.sleep(POLL)
    print(f"\nrefusal delays (s): { {name: round(delay, 3) for name, delay in delays.items()} }")
    return delays


def upstream_calls(services: list[Service]) -> dict[str, int]:
    return {service.name: service.stats()["upstream_calls"] for service in services}


ALL_KINDS = ["asgi", "fastapi", "wsgi", "flask"]
TWO_KINDS = ["asgi", "wsgi"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` (each server its own SQLite file) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_a_revoked_token_is_refused_by_every_service_within_seconds(
    live_server_factory: Callable[..., LiveServer],
    start_services: Callable[..., list[Service]],
    database_url: str | None,
) -> None:
    server = live_server_factory(database_url=database_url)
    followers = start_services(server.url, ALL_KINDS)
    blind = start_services(server.url, TWO_KINDS, follow=False)
    following(followers + blind, server.url)
    token, _ = buy(server.url)
    other, _ = buy(server.url)
    cache(followers + blind, token, other)
    calls = upstream_calls(followers)

    server.cli("revoke", "--token", token, check=True)
    delays = refusal_delays(followers, token, since=time.monotonic())

    assert max(delays.values()) < DEADLINE
    # Refused from the cache, on the feed's word: no service asked the payment server.
    assert upstream_calls(followers) == calls
    # Without the feed the cached grant still passes: what this test would see if it failed.
    for service in blind:
        assert service.call(token) == 200, service.name
    for service in followers + blind:
        assert service.call(other) == 200, service.name


def test_a_reset_tokens_old_token_is_refused_when_its_grace_ends(
    live_server_factory: Callable[..., LiveServer],
    start_services: Callable[..., list[Service]],
    database_url: str | None,
) -> None:
    grace = 2
    server = live_server_factory(database_url=database_url, reset_grace_seconds=grace)
    services = start_services(server.url, TWO_KINDS)
    following(services, server.url)
    token, artifact = buy(server.url)
    cache(services, token)
    calls = upstream_calls(services)

    asked = time.monotonic()
    with PaycheckClient(server.url) as client:
        new_token = client.reset_token(artifact)
    grace_end = time.monotonic() + grace
    for service in services:
        assert service.call(token) == 200, f"{service.name} refused during the grace"
    delays = refusal_delays(services, token, since=grace_end)

    assert all(delay > asked - grace_end - 0.1 for delay in delays.values()), delays
    assert max(delays.values()) < 1.0
    assert upstream_calls(services) == calls
    for service in services:
        assert service.call(new_token) == 200, service.name


def test_a_revocation_made_while_the_server_is_down_arrives_when_it_is_back(
    live_server_factory: Callable[..., LiveServer],
    start_services: Callable[..., list[Service]],
    database_url: str | None,
) -> None:
    server = live_server_factory(database_url=database_url)
    services = start_services(server.url, ALL_KINDS)
    following(services, server.url)
    token, _ = buy(server.url)
    other, _ = buy(server.url)
    cache(services, token, other)
    port = server.port

    server.stop()
    server.cli("revoke", "--token", token, check=True)
    for service in services:  # the payment server is down: the cached grant is still served
        assert service.call(token) == 200, service.name
    server.start()
    back = time.monotonic()

    assert server.port == port
    delays = refusal_delays(services, token, since=back)
    assert max(delays.values()) < DEADLINE
    for service in services:
        assert service.call(other) == 200, service.name


def test_events_lost_while_disconnected_reset_every_cache(
    live_server_factory: Callable[..., LiveServer],
    start_services: Callable[..., list[Service]],
    database_url: str | None,
) -> None:
    server = live_server_factory(database_url=database_url)
    services = start_services(server.url, TWO_KINDS)
    following(services, server.url)
    first, second = buy(server.url)[0], buy(server.url)[0]
    cache(services, first, second)
    feeds = {service.name: service.stats()["feed"] for service in services}

    server.stop()
    server.cli("revoke", "--token", first, check=True)
    server.cli("revoke", "--token", second, check=True)
    revoked_at = time.monotonic()
    # Purge the first event (older than 1 s; the newest one is always kept) before any
    # service could read it: a gap.
    wait_for(lambda: time.monotonic() - revoked_at > 1.2, "the revocations age")
    purged = server.cli("events", "purge", "--feed-retention-seconds", "1", check=True)
    assert purged.stdout.startswith("purged 1 "), purged.stdout
    server.start()
    back = time.monotonic()

    for token in (first, second):
        delays = refusal_delays(services, token, since=back)
        assert max(delays.values()) < DEADLINE
    for service in services:
        before = feeds[service.name]
        # One message applied, the reset, which moved the follower to the head: the second
        # revocation came as part of the reset, not as an event.
        wait_for(lambda s=service: s.stats()["feed"]["connected"], f"{service.name} reconnects")
        feed = service.stats()["feed"]
        assert feed["events_received"] == before["events_received"] + 1, service.name
        assert feed["last_event_id"] == before["last_event_id"] + 2, service.name


@pytest.mark.postgres
def test_a_deactivation_written_through_one_replica_reaches_services_of_another(
    live_server_factory: Callable[..., LiveServer],
    start_services: Callable[..., list[Service]],
    postgres_url: str,
) -> None:
    grace = 1
    writer = live_server_factory(database_url=postgres_url, reset_grace_seconds=grace)
    reader = live_server_factory(database_url=postgres_url, reset_grace_seconds=grace)
    services = start_services(reader.url, TWO_KINDS)
    following(services, reader.url)
    token, artifact = buy(writer.url)
    revoked, _ = buy(writer.url)
    cache(services, token, revoked)
    calls = upstream_calls(services)

    with PaycheckClient(writer.url) as client:
        client.reset_token(artifact)
    grace_end = time.monotonic() + grace
    reset_delays = refusal_delays(services, token, since=grace_end)
    writer.cli("revoke", "--token", revoked, check=True)
    revoke_delays = refusal_delays(services, revoked, since=time.monotonic())

    assert max(reset_delays.values()) < 1.0
    assert max(revoke_delays.values()) < DEADLINE
    assert upstream_calls(services) == calls
