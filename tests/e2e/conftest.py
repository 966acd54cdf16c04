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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paycheck_server.pytest_plugin import PaycheckServer


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LiveServer(PaycheckServer):
    """A ``paycheck-server serve`` process: the pytest plugin's server, with the controls the
    reliability tests need (a restart on the same port, any signal, a crash).

    Attributes:
        url: ``http://127.0.0.1:PORT``.
        port: the port it listens on, the same after a restart.
        database_url: the database it uses.
        env: the environment it runs with (``PAYCHECK_*`` variables included).
    """

    def __init__(self, *, database_url: str, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {
            **env,
            "PAYCHECK_DATABASE_URL": database_url,
            "PAYCHECK_HOST": "127.0.0.1",
            "PAYCHECK_PORT": str(self.port),
        }
        super().__init__(
            url=f"http://127.0.0.1:{self.port}",
            database_url=database_url,
            env=self.env,
            log_path=log_path,
        )

    def start(self) -> None:
        """Start the process, unless it runs, and wait until ``/readyz`` answers 200."""
        if self._process is None or self._process.poll() is not None:
            self._start()

    def stop(self) -> None:
        """Stop the process gracefully (SIGTERM) and wait for it."""
        self._stop()

    def signal(self, signum: int) -> None:
        """Send ``signum`` and wait for the process to exit (SIGKILL after 15 s)."""
        self._signal(signum)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        self._signal(signal.SIGKILL)


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
