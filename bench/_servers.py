"""Real server processes and a load generator for benchmarks 5 and 6.

* :class:`Served` starts a server process on a free loopback port, waits until it answers
  ``GET /healthz`` and stops it on exit: ``paycheck-server serve`` (:func:`paycheck_server`)
  or the bare FastAPI baseline under uvicorn (:func:`bare_fastapi`), both one worker.
* :func:`load` drives one of them from another process: wrk when it is installed
  (``apt-get install -y wrk``), else the httpx generator of :mod:`bench._loadgen`.
* :class:`PostgresDatabases` creates throwaway databases on a PostgreSQL server and drops
  them afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
from sqlalchemy.engine import make_url

from paycheck_core import PaycheckClient

__all__ = [
    "CONNECTIONS",
    "ROOT",
    "Generator",
    "Load",
    "PostgresDatabases",
    "Served",
    "bare_fastapi",
    "check_body",
    "compare",
    "free_port",
    "issue_token",
    "load",
    "paycheck_server",
    "pick_generator",
]

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 8
"""Keep-alive connections the load generator keeps busy."""
SERVICE = "Online marketplace"
METHOD = "getInfo"
_READY_TIMEOUT = 90.0
Generator = Literal["wrk", "httpx"]
"""The load generators: wrk, or the httpx one of :mod:`bench._loadgen`."""

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{{"requests": %d, "seconds": %f, "errors": %d, "status_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration / 1e6,
    errors.connect + errors.read + errors.write + errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """A server process on a loopback port, stopped on exit.

    Args:
        name: what it is, for messages.
        command: the command line; ``{port}`` in it is replaced by the port.
        env: variables added to this process's environment.
    """

    def __init__(self, name: str, command: list[str], *, env: dict[str, str] | None = None):
        self.name = name
        self.port = free_port()
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError(f"{self.name} exited at startup:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.name} did not answer within {_READY_TIMEOUT:g} s:\n{self.log()}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def log(self) -> str:
        """The last lines the process wrote."""
        self._log.seek(0)
        return "\n".join(self._log.read().decode(errors="replace").splitlines()[-20:])


def paycheck_server(database_url: str) -> Served:
    """``paycheck-server serve`` with one worker on ``database_url`` and the demo catalog."""
    command = [
        sys.executable,
        "-m",
        "paycheck_server",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        "1",
        "--database-url",
        database_url,
    ]
    return Served(
        f"paycheck-server ({make_url(database_url).get_backend_name()})",
        command,
        env={"PAYCHECK_LOG_LEVEL": "warning"},
    )


def bare_fastapi() -> Served:
    """:mod:`bench._bare_app` under uvicorn, served as ``paycheck-server`` serves itself."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench._bare_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-server-header",
    ]
    return Served("bare FastAPI (uvicorn)", command)


def issue_token(base_url: str) -> str:
    """A paid token for ``getInfo`` of the demo catalog's service, bought through the API."""
    with PaycheckClient(base_url, timeout=30) as client:
        today = date.today()
        bill = client.create_bill(SERVICE, today, today + timedelta(days=30), [METHOD])
        token = client.pay(bill.payment_artifact).token
        decision = client.check_token(token, SERVICE, METHOD)
    if not decision.allowed:
        raise RuntimeError(f"a freshly paid token was refused: {decision}")
    return token


def check_body(token: str) -> dict[str, str]:
    """The JSON body of ``POST /token/check`` for ``token``."""
    return {"token": token, "serviceName": SERVICE, "methodName": METHOD}


def pick_generator(choice: str = "auto") -> Generator:
    """``"wrk"`` if asked or found on PATH (for ``"auto"``), else ``"httpx"``.

    Raises:
        ValueError: ``choice`` is not auto, wrk or httpx, or wrk is asked for and missing.
    """
    if choice not in ("auto", "wrk", "httpx"):
        raise ValueError(f"the load generator is auto, wrk or httpx, not {choice!r}")
    if choice == "httpx":
        return "httpx"
    if shutil.which("wrk") is not None:
        return "wrk"
    if choice == "wrk":
        raise ValueError("wrk is not installed: apt-get install -y wrk (or brew install wrk)")
    return "httpx"


@dataclass(frozen=True, slots=True)
class Load:
    """What one load run measured."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int


def load(url: str, body: dict[str, Any], *, generator: Generator, duration: float) -> Load:
    """Drive ``POST url`` with ``body`` for ``duration`` seconds from another process.

    Raises:
        RuntimeError: a request failed or was answered with anything but 2xx.
    """
    payload = json.dumps(body, separators=(",", ":"))
    with tempfile.TemporaryDirectory(prefix="paycheck-bench-") as scratch:
        if generator == "wrk":
            script = Path(scratch) / "post.lua"
            script.write_text(_WRK_SCRIPT.format(body=payload))
            command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration:g}s", "-s", str(script), url]
        else:
            body_file = Path(scratch) / "body.json"
            body_file.write_text(payload)
            command = [
                sys.executable,
                "-m",
                "bench._loadgen",
                url,
                str(body_file),
                f"--connections={CONNECTIONS}",
                f"--duration={duration:g}",
            ]
        result = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{generator} failed ({result.returncode}): {result.stderr.strip()}")
    figures = json.loads(lines[-1])
    if figures["errors"] or figures["status_errors"]:
        raise RuntimeError(
            f"{url}: {figures['errors']} failed requests and {figures['status_errors']} "
            "answers other than 2xx under load: the bench is broken"
        )
    return Load(
        requests_per_s=figures["requests"] / figures["seconds"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        requests=figures["requests"],
    )


class PostgresDatabases:
    """Fresh databases on the PostgreSQL server of ``admin_url``, dropped on exit.

    Args:
        admin_url: a URL of an existing database to connect to while creating the others
            (``postgresql+asyncpg://postgres@127.0.0.1:5432/test``).
        names: the databases to create (dropped first if a previous run left them).
    """

    def __init__(self, admin_url: str, names: list[str]) -> None:
        self.url = make_url(admin_url).set(drivername="postgresql+asyncpg")
        self.names = names

    def urls(self) -> list[str]:
        """The ``postgresql+asyncpg://`` URL of each database, in the order of ``names``."""
        return [
            self.url.set(database=name).render_as_string(hide_password=False) for name in self.names
        ]

    def _admin(self, statements: list[str]) -> None:
        import asyncpg

        async def run() -> None:
            connection = await asyncpg.connect(
                host=self.url.host,
                port=self.url.port or 5432,
                user=self.url.username,
                password=self.url.password,
                database=self.url.database,
                timeout=10,
            )
            try:
                for statement in statements:
                    await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run())

    def __enter__(self) -> PostgresDatabases:
        statements: list[str] = []
        for name in self.names:
            statements += [
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                f'CREATE DATABASE "{name}"',
            ]
        self._admin(statements)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.names])


def compare(
    targets: dict[str, tuple[str, dict[str, Any]]],
    *,
    generator: Generator,
    duration: float,
    repeats: int,
) -> dict[str, list[Load]]:
    """Load each target ``repeats`` times in rotating turns, after one short warm-up each.

    Args:
        targets: name to ``(url, body)``.
    """
    names = list(targets)
    for name in names:  # connections, caches and the JIT-less interpreter's first paths
        url, body = targets[name]
        load(url, body, generator=generator, duration=min(1.0, duration))
    results: dict[str, list[Load]] = {name: [] for name in names}
    for turn in range(repeats):
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            url, body = targets[name]
            results[name].append(load(url, body, generator=generator, duration=duration))
    return results
