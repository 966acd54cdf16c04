"""A pytest plugin that runs the real payment server for the tests of a protected service.

Install it with ``pip install "paycheck-suite[testing]"``; pytest loads it on its own (entry
point ``pytest11``, name ``paycheck``). It gives three fixtures:

- ``paycheck_server`` (session): a running ``paycheck-server serve`` process with a temporary
  SQLite database, on a free port of 127.0.0.1, selling the catalog of ``paycheck_catalog``.
  It is a :class:`PaycheckServer`: ``.url``, ``.token(...)``, ``.buy(...)``, ``.revoke(...)``,
  ``.reset(...)``.
- ``paycheck_catalog`` (session): the catalog that server sells: the file given by
  ``pytest --paycheck-catalog PATH`` or the ``paycheck_catalog`` ini option, else ``None`` (the
  demo catalog). Override it in a ``conftest.py`` to return a path or a dict.
- ``paycheck_server_factory`` (session): ``start(catalog=..., **settings)`` starts more servers,
  for example with another catalog or ``reset_grace_seconds=0``; each is stopped at the end of
  the session.

Nothing happens until a test asks for one of these fixtures: the plugin imports neither the
server nor the SDK before that, and starts no process.

Example::

    def test_a_paid_token_gets_in(paycheck_server):
        token = paycheck_server.token("Online marketplace", ["getInfo"])
        app = create_app(server_url=paycheck_server.url)
        ...
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CatalogSpec", "PaycheckServer", "Purchase"]

CatalogSpec = str | os.PathLike[str] | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
"""A catalog: a TOML or JSON file, its content as a dict (or the registry's list), or ``None``
for the demo catalog."""

STARTUP_TIMEOUT = 60.0  # seconds; generous, for a busy CI machine
# What `paycheck-server serve` imports; without them the server cannot start.
_SERVER_MODULES = ("fastapi", "uvicorn", "sqlalchemy", "alembic", "aiosqlite", "pydantic_settings")
# The plugin chooses where the server listens and keeps its data.
_RESERVED = {"host", "port", "workers", "catalog", "registry_url"}


@dataclass(frozen=True, slots=True)
class Purchase:
    """A paid bill: its access token and the payment artifact that resets it.

    Attributes:
        token: the access token (``pct_...``), for ``Authorization: Bearer``.
        payment_artifact: the payment artifact (``pca_...``), for :meth:`PaycheckServer.reset`.
        service: the service the token is for.
        methods: the methods bought.
        date_from: the first paid day (UTC).
        date_to: the last paid day (UTC).
    """

    token: str = field(repr=False)
    payment_artifact: str = field(repr=False)
    service: str
    methods: tuple[str, ...]
    date_from: date
    date_to: date


class PaycheckServer:
    """A running ``paycheck-server serve`` process, made by the plugin's fixtures.

    Attributes:
        url: where it listens, ``http://127.0.0.1:PORT``.
        database_url: its database (a SQLite file in the session's temporary directory).
        startup_seconds: how long it took from the start of the process until ``/readyz``
            answered 200.
    """

    def __init__(
        self, *, url: str, database_url: str, env: Mapping[str, str], log_path: Path
    ) -> None:
        self.url = url
        self.database_url = database_url
        self.startup_seconds = 0.0
        self._env = dict(env)
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<PaycheckServer {self.url}>"

    def buy(self, service: str, methods: Sequence[str] | None = None, *, days: int = 1) -> Purchase:
        """Buy access through the server's API (``POST /bill``, then ``POST /pay``).

        Args:
            service: the service's name in the catalog.
            methods: the methods to buy; ``None`` buys every method the service sells.
            days: how many days, from today (UTC), the token works.

        Raises:
            ValueError: ``days`` is below 1.
            paycheck_core.APIError: the server refused the bill (unknown service or method).
        """
        from paycheck_core import PaycheckClient

        if days < 1:
            raise ValueError(f"days must be 1 or more, not {days!r}")
        today = datetime.now(UTC).date()
        with PaycheckClient(self.url) as client:
            bill = client.create_bill(service, today, today + timedelta(days=days - 1), methods)
            payment = client.pay(bill.payment_artifact)
        return Purchase(
            token=payment.token,
            payment_artifact=bill.payment_artifact,
            service=bill.service,
            methods=tuple(method.name for method in bill.methods),
            date_from=bill.date_from,
            date_to=bill.date_to,
        )

    def token(self, service: str, methods: Sequence[str] | None = None, *, days: int = 1) -> str:
        """An access token for ``methods`` of ``service`` (every method for sale when ``None``).

        The same as ``buy(...).token``; use :meth:`buy` when the test resets the token too.
        """
        return self.buy(service, methods, days=days).token

    def revoke(self, token: str) -> None:
        """Stop ``token`` now, on the server's database, as ``paycheck-server revoke`` does.

        It runs in this process, through the server's store, in a thread of its own (so that
        an async test can call it too): a new ``paycheck-server`` process for each revoke would
        cost each one the server's start-up imports.

        Raises:
            RuntimeError: the token is not an access token, or the server's database has no
                such token.
        """
        from paycheck_core import tokens

        if not tokens.is_well_formed(token, prefix=tokens.TOKEN_PREFIX):
            raise RuntimeError("paycheck-server revoke failed: not an access token (pct_...)")
        outcome: list[str] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                outcome.append(asyncio.run(_revoke(self.database_url, tokens.digest(token))))
            except BaseException as exc:  # raised again in the caller's thread, below
                failure.append(exc)

        thread = threading.Thread(target=run, name="paycheck-server revoke")
        thread.start()
        thread.join()
        if failure:
            reason = str(failure[0]) or type(failure[0]).__name__
            raise RuntimeError(f"paycheck-server revoke failed: {reason}") from failure[0]
        if outcome == ["unknown"]:
            raise RuntimeError(
                "paycheck-server revoke failed: the server's database has no such token"
            )

    def reset(self, payment_artifact: str) -> str:
        """Issue a new token through ``POST /token/reset``; returns it.

        The previous token keeps working for the server's grace period (5 minutes unless the
        server was started with ``reset_grace_seconds=...``), then stops.
        """
        from paycheck_core import PaycheckClient

        with PaycheckClient(self.url) as client:
            return client.reset_token(payment_artifact)

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``paycheck-server <args>`` against the same database; the output is captured.

        With ``check=True`` a non-zero exit raises :class:`subprocess.CalledProcessError`.
        """
        return subprocess.run(
            [sys.executable, "-m", "paycheck_server", *args],
            env=self._env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def log_text(self) -> str:
        """Everything the server process wrote so far (its startup line, access log, errors)."""
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _start(self) -> None:
        import httpx

        started = time.monotonic()
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "paycheck_server", "serve"],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so that stopping it stops everything it started.
                start_new_session=True,
            )
        deadline = started + STARTUP_TIMEOUT
        with httpx.Client(timeout=1.0) as http:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"paycheck-server exited with {self._process.returncode} before it was "
                        f"ready:\n{self.log_text()}"
                    )
                try:
                    if http.get(f"{self.url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self._stop()
                    raise RuntimeError(
                        f"paycheck-server was not ready within {STARTUP_TIMEOUT:g} s:\n"
                        f"{self.log_text()}"
                    )
                time.sleep(0.02)
        self.startup_seconds = time.monotonic() - started

    def _stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, signum: int) -> None:
        """Send ``signum`` to the server's process group and wait for it (SIGKILL after 15 s)."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signum)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def _revoke(database_url: str, token_digest: str) -> str:
    from .clock import SystemClock
    from .db import create_engine
    from .store import Store

    store = Store(create_engine(database_url), clock=SystemClock())
    try:
        return await store.revoke(token_digest)
    finally:
        await store.aclose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _catalog_file(catalog: CatalogSpec, directory: Path) -> Path | None:
    if catalog is None:
        return None
    if isinstance(catalog, str | os.PathLike):
        path = Path(catalog)
        if not path.is_file():
            raise FileNotFoundError(f"the Paycheck catalog {path} is not a file")
        return path.resolve()
    path = directory / "catalog.json"
    path.write_text(json.dumps(catalog), encoding="utf-8")
    return path


def _require_the_server() -> None:
    missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(
            f"the paycheck_server fixture needs the payment server ({', '.join(missing)} "
            'missing): pip install "paycheck-suite[testing]"',
            pytrace=False,
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--paycheck-catalog`` and the ``paycheck_catalog`` ini option."""
    group = parser.getgroup("paycheck", "Paycheck payment server (paycheck_server fixture)")
    group.addoption(
        "--paycheck-catalog",
        dest="paycheck_catalog",
        metavar="PATH",
        default=None,
        help="TOML or JSON catalog the paycheck_server fixture sells (default: the demo catalog).",
    )
    parser.addini(
        "paycheck_catalog",
        "TOML or JSON catalog the paycheck_server fixture sells, relative to the ini file.",
        default="",
    )


@pytest.fixture(scope="session")
def paycheck_catalog(pytestconfig: pytest.Config) -> CatalogSpec:
    """The catalog ``paycheck_server`` sells: ``--paycheck-catalog``, the ini option, or ``None``.

    ``None`` is the demo catalog ("Online marketplace", "Weather"). Override this fixture
    (session scope) in a ``conftest.py`` to return a path or the catalog as a dict::

        @pytest.fixture(scope="session")
        def paycheck_catalog():
            return {"services": [{"name": "Maps", "methods": [
                {"name": "route", "price_per_day": "0.90"}]}]}
    """
    option: str | None = pytestconfig.getoption("paycheck_catalog")
    if option:
        return pytestconfig.invocation_params.dir / option
    value = str(pytestconfig.getini("paycheck_catalog"))
    if value:
        base = pytestconfig.inipath.parent if pytestconfig.inipath else pytestconfig.rootpath
        return base / value
    return None


@pytest.fixture(scope="session")
def paycheck_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., PaycheckServer]]:
    """Start payment servers: ``start(catalog=None, *, database_url=None, **settings)``.

    ``catalog`` is a path or a dict (see ``paycheck_catalog``); ``database_url`` defaults to
    a new SQLite file; other keywords become ``PAYCHECK_*`` settings of the server, for example
    ``reset_grace_seconds=0``. Every server started is stopped at the end of the session.
    """
    servers: list[PaycheckServer] = []

    def start(
        catalog: CatalogSpec = None, *, database_url: str | None = None, **settings: Any
    ) -> PaycheckServer:
        reserved = sorted(_RESERVED.intersection(settings))
        if reserved:
            raise ValueError(f"the plugin chooses {', '.join(reserved)}; give the others only")
        _require_the_server()
        directory = tmp_path_factory.mktemp("paycheck-server")
        catalog_path = _catalog_file(catalog, directory)
        port = _free_port()
        database_url = database_url or f"sqlite+aiosqlite:///{directory / 'paycheck.db'}"
        # The session's own PAYCHECK_* variables (the service's server URL, say) are not
        # the server's settings.
        env = {
            name: value for name, value in os.environ.items() if not name.startswith("PAYCHECK_")
        }
        env.update({f"PAYCHECK_{name.upper()}": str(value) for name, value in settings.items()})
        env.update(
            PAYCHECK_HOST="127.0.0.1",
            PAYCHECK_PORT=str(port),
            PAYCHECK_DATABASE_URL=database_url,
        )
        if catalog_path is not None:
            env["PAYCHECK_CATALOG"] = str(catalog_path)
        server = PaycheckServer(
            url=f"http://127.0.0.1:{port}",
            database_url=database_url,
            env=env,
            log_path=directory / "paycheck-server.log",
        )
        servers.append(server)
        server._start()
        return server

    yield start
    for server in servers:
        server._stop()


@pytest.fixture(scope="session")
def paycheck_server(
    paycheck_server_factory: Callable[..., PaycheckServer], paycheck_catalog: CatalogSpec
) -> PaycheckServer:
    """The payment server of the session, selling ``paycheck_catalog``; see the module doc."""
    return paycheck_server_factory(paycheck_catalog)
