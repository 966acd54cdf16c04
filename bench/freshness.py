"""Benchmark 8: how fast a deactivation reaches services that follow the token-event feed.

A ``paycheck-server`` (one worker) and four service processes (``tests/e2e/feed_apps.py``:
Starlette on uvicorn, FastAPI on uvicorn, a bare WSGI app on a threaded server, Flask on
werkzeug's threaded server), each with a validator made with ``ttl=3600``. A load thread per
service calls it all the time with a pool of paid tokens (steady traffic: every token's grant is
cached). Then, one at a time, a token of the pool is deactivated and every service is called
every 20 ms with it until it refuses it; the delay is counted from:

* ``paycheck-server revoke`` returning (a revocation);
* the end of the grace period of a ``/token/reset`` (``PAYCHECK_RESET_GRACE_SECONDS=2``);
* the server's return, for a revocation made with ``paycheck-server revoke`` while the server
  was stopped (it is started again on the same port);
* on PostgreSQL, two replicas on one database: the reset is made through replica A, the
  services follow replica B; counted from the grace end (1 s).

Also measured: the cache hit rate under the steady traffic (the validators' own counters, from
the services' ``/stats``), the CPU of an idle subscriber (a service with no traffic that follows
the feed, from ``/proc/<pid>/stat``) and the bytes of one heartbeat on the wire.

Targets: p99 <= 1 s, max <= 5 s, hit rate >= 99 %, an idle subscriber below 1 % of a core.

Run: ``python -m bench.freshness [--quick] [--revocations N] [--postgres-url URL |
--no-postgres] [--markdown PATH]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import httpx

from paycheck_core import PaycheckClient

from ._harness import Table, emit, parse_args
from ._servers import ROOT, PostgresDatabases, Served, free_port
from .server_throughput import DEFAULT_POSTGRES_URL, add_server_options

__all__ = ["main", "run"]

APPS = ROOT / "tests" / "e2e" / "feed_apps.py"
KINDS = ("asgi", "fastapi", "wsgi", "flask")
SERVICE = "Online marketplace"
METHOD = "getInfo"
POLL = 0.02  # seconds between two calls while waiting for a refusal
LIMIT = 15.0  # a service that still lets a token through after this is a failure
RESET_GRACE = 2
REPLICA_GRACE = 1
LOAD_PAUSE = 0.01  # seconds between two requests of a load thread: steady, not saturating
TARGET_P99, TARGET_MAX, TARGET_HIT_RATE, TARGET_IDLE_CPU = 1.0, 5.0, 0.99, 0.01


def _server(database_url: str, port: int, **settings: object) -> Served:
    """``paycheck-server serve`` on ``port`` (kept across restarts)."""
    served = Served(
        "paycheck-server",
        [sys.executable, "-m", "paycheck_server", "serve", "--workers", "1"],
        env={
            "PAYCHECK_DATABASE_URL": database_url,
            "PAYCHECK_HOST": "127.0.0.1",
            "PAYCHECK_PORT": str(port),
            "PAYCHECK_LOG_LEVEL": "warning",
            **{f"PAYCHECK_{name.upper()}": str(value) for name, value in settings.items()},
        },
    )
    served.port = port
    return served


def _cli(server: Served, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "paycheck_server", *args],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )


def _service(kind: str, server_url: str) -> Served:
    return Served(
        kind,
        [sys.executable, str(APPS), kind, "--port", "{port}"],
        env={"PAYCHECK_SERVER_URL": server_url},
    )


class Traffic:
    """A load thread per service, calling ``/getInfo`` with the pool's tokens in turn."""

    def __init__(self, services: Sequence[Served], tokens: list[tuple[str, str]]) -> None:
        self.pool = list(tokens)  # (token, payment artifact); deactivated ones are taken out
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(service.url,), daemon=True)
            for service in services
        ]

    def _loop(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while not self._stop.is_set():
                token = random.choice(self.pool)[0]
                status = http.get("/getInfo", headers={"Authorization": f"Bearer {token}"})
                # 503 is fine while the server is stopped (an answer not cached yet).
                live = any(token == t for t, _ in self.pool)
                if status.status_code in (401, 403) and live:
                    self.errors.append(f"{url}: {status.status_code} for a live token")
                self._stop.wait(LOAD_PAUSE)

    def take(self) -> tuple[str, str]:
        """A token of the pool, no longer used by the load (it is about to be deactivated)."""
        return self.pool.pop(random.randrange(len(self.pool)))

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def _buy(server_url: str, count: int) -> list[tuple[str, str]]:
    bought = []
    with PaycheckClient(server_url, timeout=30) as client:
        for _ in range(count):
            bill = client.create_bill(SERVICE, date.today(), date.today(), [METHOD])
            bought.append((client.pay(bill.payment_artifact).token, bill.payment_artifact))
    return bought


def _refusals(clients: list[httpx.Client], token: str, since: float) -> list[float]:
    """Each service's first 401 for ``token``, in seconds after ``since`` (monotonic)."""
    delays: dict[int, float] = {}
    headers = {"Authorization": f"Bearer {token}"}
    while len(delays) < len(clients):
        for index, http in enumerate(clients):
            if index not in delays and http.get("/getInfo", headers=headers).status_code == 401:
                delays[index] = time.monotonic() - since
        if time.monotonic() - since > LIMIT and len(delays) < len(clients):
            raise RuntimeError(f"a deactivated token still passes after {LIMIT:g} s")
        time.sleep(POLL)
    return list(delays.values())


def _stats(services: Sequence[Served]) -> list[dict[str, int]]:
    return [httpx.get(f"{service.url}/stats", timeout=30).json() for service in services]


def _feeds_connected(services: Sequence[Served]) -> None:
    deadline = time.monotonic() + 60
    while not all((stats["feed"] or {}).get("connected") for stats in _stats(services)):
        if time.monotonic() > deadline:
            raise RuntimeError("a service's feed did not connect within 60 s")
        time.sleep(0.1)


@contextmanager
def _clients(services: Sequence[Served]) -> Iterator[list[httpx.Client]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(httpx.Client(base_url=service.url, timeout=30))
            for service in services
        ]


def _row(table: Table, what: str, delays: list[float]) -> tuple[float, float]:
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    table.add(
        what,
        len(delays),
        f"{statistics.median(delays) * 1000:.0f}",
        f"{p99 * 1000:.0f}",
        f"{max(delays) * 1000:.0f}",
    )
    return p99, max(delays)


def run(
    *,
    quick: bool = False,
    postgres_url: str | None = DEFAULT_POSTGRES_URL,
    loadgen: str = "auto",
    revocations: int | None = None,
) -> list[Table]:
    """Serve, load, deactivate and measure; returns the tables.

    Args:
        postgres_url: a PostgreSQL server to create the replicas' database on, or ``None``.
        loadgen: unused (the load is made by threads of this process); accepted like the
            other server benchmarks.
        revocations: deactivations of each kind (30 by default, 3 with ``quick``).
    """
    count = revocations or (3 if quick else 30)
    outages = max(1, count // 6)
    idle_seconds = 3.0 if quick else 20.0
    delays = Table(
        f"8. Freshness: deactivation to refusal at {len(KINDS)} services (ttl 3600 s, "
        "1 server worker)",
        ["deactivation", "samples", "median ms", "p99 ms", "max ms"],
    )
    costs = Table("8. Freshness: cache hit rate and the cost of the feed", ["what", "value"])
    worst: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="paycheck-bench-") as scratch:
        database = f"sqlite+aiosqlite:///{Path(scratch)}/fresh.db"
        port = free_port()
        with ExitStack() as stack:
            server = stack.enter_context(_server(database, port, reset_grace_seconds=RESET_GRACE))
            services = [stack.enter_context(_service(kind, server.url)) for kind in KINDS]
            tokens = _buy(server.url, 20 if quick else 200)
            clients = stack.enter_context(_clients(services))
            for http in clients:  # the first validation starts the feed
                http.get("/getInfo", headers={"Authorization": f"Bearer {tokens[0][0]}"})
            _feeds_connected(services)
            traffic = stack.enter_context(Traffic(services, tokens))
            time.sleep(2 if quick else 5)  # every token of the pool gets cached
            before = _stats(services)
            revoked: list[float] = []
            for _ in range(count):
                token, _artifact = traffic.take()
                _cli(server, "revoke", "--token", token)
                revoked += _refusals(clients, token, time.monotonic())
            reset: list[float] = []
            with PaycheckClient(server.url, timeout=30) as payments:
                for _ in range(count):
                    token, artifact = traffic.take()
                    traffic.pool.append((payments.reset_token(artifact), artifact))
                    reset += _refusals(clients, token, time.monotonic() + RESET_GRACE)
            after = _stats(services)
            down: list[float] = []
            for _ in range(outages):
                server.__exit__(None, None, None)
                token, _artifact = traffic.take()
                _cli(server, "revoke", "--token", token)
                server = stack.enter_context(
                    _server(database, port, reset_grace_seconds=RESET_GRACE)
                )
                down += _refusals(clients, token, time.monotonic())
            stack.pop_all().close()
            if traffic.errors:
                raise RuntimeError(f"live tokens refused under load: {traffic.errors[:3]}")
        worst.append(_row(delays, "SQLite: revoke (from the CLI's return)", revoked))
        worst.append(_row(delays, f"SQLite: reset (from its {RESET_GRACE} s grace end)", reset))
        worst.append(
            _row(delays, "SQLite: revoke while the server is down (from its return)", down)
        )
        hits = sum(a["hits"] - b["hits"] for a, b in zip(after, before, strict=True))
        misses = sum(a["misses"] - b["misses"] for a, b in zip(after, before, strict=True))
        hit_rate = hits / max(1, hits + misses)
        costs.add(
            "cache hit rate under steady traffic (4 services)",
            f"{hit_rate:.4%} ({hits:,} hits, {misses:,} misses)",
        )
        idle, heartbeat = _feed_cost(database, idle_seconds)
        for kind, share in idle.items():
            costs.add(f"CPU of an idle {kind} subscriber over {idle_seconds:g} s", f"{share:.3%}")
        costs.add("bytes of one heartbeat on the wire", str(heartbeat))
    if postgres_url:
        worst.append(_row(delays, *_replicas(postgres_url, count)))
    p99 = max(value for value, _ in worst)
    longest = max(value for _, value in worst)
    met = {
        "p99": p99 <= TARGET_P99,
        "max": longest <= TARGET_MAX,
        "hit rate": hit_rate >= TARGET_HIT_RATE,
        "idle CPU": max(idle.values()) < TARGET_IDLE_CPU,
    }
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    delays.notes += [
        f"each service called every {POLL * 1000:.0f} ms with the token until it answers 401; "
        f"a load thread per service calls it with a pool of {len(tokens)} tokens meanwhile",
        f"load average at the end: {load}",
        f"target: p99 <= {TARGET_P99:g} s and max <= {TARGET_MAX:g} s: "
        f"{'met' if met['p99'] and met['max'] else 'MISSED'}",
    ]
    costs.notes += [
        f"target: hit rate >= {TARGET_HIT_RATE:.0%}: {'met' if met['hit rate'] else 'MISSED'}; "
        f"idle subscriber below {TARGET_IDLE_CPU:.0%} of a core: "
        f"{'met' if met['idle CPU'] else 'MISSED'}",
    ]
    return [delays, costs]


def _replicas(postgres_url: str, count: int) -> tuple[str, list[float]]:
    name = f"paycheck_bench_{os.getpid()}_fresh"
    replica_delays: list[float] = []
    with PostgresDatabases(postgres_url, [name]) as databases, ExitStack() as stack:
        url = databases.urls()[0]
        writer = stack.enter_context(_server(url, free_port(), reset_grace_seconds=REPLICA_GRACE))
        reader = stack.enter_context(_server(url, free_port(), reset_grace_seconds=REPLICA_GRACE))
        services = [stack.enter_context(_service(kind, reader.url)) for kind in KINDS]
        tokens = _buy(writer.url, max(count, 10))
        clients = stack.enter_context(_clients(services))
        for http in clients:
            http.get("/getInfo", headers={"Authorization": f"Bearer {tokens[0][0]}"})
        _feeds_connected(services)
        with Traffic(services, tokens) as traffic, PaycheckClient(writer.url) as payments:
            time.sleep(2)  # the pool's grants get cached
            for _ in range(count):
                token, artifact = traffic.take()
                traffic.pool.append((payments.reset_token(artifact), artifact))
                replica_delays += _refusals(clients, token, time.monotonic() + REPLICA_GRACE)
        stack.close()
    return "PostgreSQL, 2 replicas: reset through A, services on B (from grace end)", replica_delays


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _feed_cost(database: str, seconds: float) -> tuple[dict[str, float], int]:
    """CPU share of idle subscribers (no traffic), and the size of one heartbeat."""
    shares = {}
    with _server(database, free_port()) as server:
        for kind in ("asgi", "wsgi"):
            with _service(kind, server.url) as service:
                token = _buy(server.url, 1)[0][0]
                httpx.get(f"{service.url}/getInfo", headers={"Authorization": f"Bearer {token}"})
                _feeds_connected([service])
                assert service.process is not None
                began, cpu = time.monotonic(), _cpu_seconds(service.process.pid)
                time.sleep(seconds)  # idle on purpose: the CPU of following the feed alone
                shares[kind] = (_cpu_seconds(service.process.pid) - cpu) / (
                    time.monotonic() - began
                )
        heartbeat = 0
        params = {"service": SERVICE}
        with httpx.stream("GET", f"{server.url}/token/events", params=params, timeout=30) as r:
            seen = b""
            for chunk in r.iter_raw():
                seen += chunk
                messages = seen.split(b"\r\n\r\n") if b"\r\n" in seen else seen.split(b"\n\n")
                beats = [m for m in messages[1:-1] if b"event: heartbeat" in m]
                if beats:  # the second heartbeat: the first one carries retry: too
                    heartbeat = len(beats[0]) + 2 * (2 if b"\r\n" in seen else 1)
                    break
    return shares, heartbeat


def _add_options(parser: argparse.ArgumentParser) -> None:
    add_server_options(parser)
    parser.add_argument(
        "--revocations", type=int, default=None, help="deactivations of each kind (default 30)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv, _add_options)
    postgres = None if args.no_postgres else args.postgres_url
    emit(run(quick=args.quick, postgres_url=postgres, revocations=args.revocations), args.markdown)


if __name__ == "__main__":
    main()
