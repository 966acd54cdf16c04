"""Fixtures that run the real ``paycheck-server`` process on a free port.

- ``live_server``: a server with the demo catalog and a temporary SQLite database, started
  for the test and stopped after it. Use ``.url`` with the SDK or httpx, ``.cli(...)`` to run
  ``paycheck-server`` commands against the same database.
- ``live_server_factory(**env)``: more servers, or other settings; for example
  ``live_server_factory(database_url=postgres_url, workers=2)`` or
  ``live_server_factory(reset_grace_seconds=0)`` (keywords become ``PAYCHECK_*`` variables).
- ``postgres_url`` (from ``tests/conftest.py``): a fresh PostgreSQL database per test.

Example::

    def test_paying(live_server):
        with PaycheckClient(live_server.url) as client:
            ...
        live_server.cli("revoke", "--token", token)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_SECONDS = 30.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LiveServer:
    """A ``paycheck-server serve`` process.

    Attributes:
        url: ``http://127.0.0.1:PORT``.
        database_url: the database it uses.
        env: the environment it runs with (``PAYCHECK_*`` variables included).
    """

    def __init__(self, *, database_url: str, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.env = {
            **env,
            "PAYCHECK_DATABASE_URL": database_url,
            "PAYCHECK_HOST": "127.0.0.1",
            "PAYCHECK_PORT": str(self.port),
        }
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``paycheck-server <args>`` against the same database; output is captured."""
        return subprocess.run(
            [sys.executable, "-m", "paycheck_server", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self) -> None:
        """Start the process and wait until ``/readyz`` answers 200."""
        if self._process is not None and self._process.poll() is None:
            return
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "paycheck_server", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"paycheck-server exited with {self._process.returncode}:\n{self.log_text()}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"paycheck-server was not ready in time:\n{self.log_text()}")

    def _signal(self, signum: int) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        # The whole process group: with --workers the server has child processes.
        os.killpg(process.pid, signum)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        """Stop the process gracefully (SIGTERM) and wait for it."""
        self._signal(signal.SIGTERM)

    def signal(self, signum: int) -> None:
        """Send ``signum`` and wait for the process to exit (SIGKILL after 15 s)."""
        self._signal(signum)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        self._signal(signal.SIGKILL)

    def log_text(self) -> str:
        """Everything the process wrote on stdout and stderr so far."""
        if not self._log_path.exists():
            return ""
        return self._log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start servers: ``live_server_factory(database_url=None, workers=1, **settings)``.

    Without ``database_url`` each server gets its own SQLite file in ``tmp_path``; other
    keywords become ``PAYCHECK_<NAME>`` variables. Every server is stopped after the test.
    """
    servers: list[LiveServer] = []

    def start(database_url: str | None = None, **settings: Any) -> LiveServer:
        index = len(servers)
        url = database_url or f"sqlite+aiosqlite:///{tmp_path / f'paycheck-{index}.db'}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("PAYCHECK_")}
        env.update({f"PAYCHECK_{name.upper()}": str(value) for name, value in settings.items()})
        server = LiveServer(
            database_url=url, env=env, log_path=tmp_path / f"paycheck-server-{index}.log"
        )
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A running ``paycheck-server`` with the demo catalog and a fresh SQLite database."""
    return live_server_factory()
