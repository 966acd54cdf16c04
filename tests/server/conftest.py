"""Fixtures of the server tests: the app over its real HTTP surface, a fake clock, a database.

Every test that asks for ``api`` runs twice: on a temporary SQLite file, and on a fresh
PostgreSQL database (marked ``postgres``; skipped without ``PAYCHECK_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from paycheck_server import PaymentProvider, SandboxProvider, Settings, create_app
from paycheck_server import db as tables
from paycheck_server.migrate import upgrade
from paycheck_server.testing import FakeClock

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TODAY = START.date()


@pytest.fixture
def clock() -> FakeClock:
    """The app's clock: 2030-01-01 12:00 UTC until a test moves it."""
    return FakeClock(START)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated-on-demand database: a temporary SQLite file, or a fresh PostgreSQL one."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'paycheck.db'}"


class Api:
    """The app seen through HTTP, with shortcuts for the usual requests."""

    def __init__(self, http: httpx.AsyncClient, app: Any, clock: FakeClock) -> None:
        self.http = http
        self.app = app
        self.clock = clock

    async def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return await self.http.post(path, json=body, headers=headers)

    async def bill(
        self,
        service: str = "Online marketplace",
        methods: list[str] | None = None,
        date_from: date = TODAY,
        date_to: date | None = None,
        **headers: str,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "serviceName": service,
            "dateFrom": date_from.isoformat(),
            "dateTo": (date_to or date_from + timedelta(days=9)).isoformat(),
        }
        if methods is not None:
            body["methods"] = methods
        return await self.post("/bill", body, **headers)

    async def artifact(self, **kwargs: Any) -> str:
        response = await self.bill(**kwargs)
        assert response.status_code == 200, response.text
        artifact: str = response.json()["paymentArtifact"]
        return artifact

    async def pay(self, artifact: str, **headers: str) -> httpx.Response:
        return await self.post("/pay", {"paymentArtifact": artifact}, **headers)

    async def token(self, **kwargs: Any) -> str:
        response = await self.pay(await self.artifact(**kwargs))
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    async def reset(self, artifact: str) -> httpx.Response:
        return await self.post("/token/reset", {"paymentArtifact": artifact})

    async def check(
        self, token: str, service: str = "Online marketplace", method: str = "getInfo"
    ) -> httpx.Response:
        return await self.post(
            "/token/check", {"token": token, "serviceName": service, "methodName": method}
        )

    async def count(self, table: Any, *where: Any) -> int:
        async with self.app.state.paycheck.store.engine.connect() as connection:
            value = await connection.scalar(select(func.count()).select_from(table).where(*where))
        return int(value or 0)

    async def current_tokens(self) -> int:
        return await self.count(tables.tokens, tables.tokens.c.expires_at.is_(None))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The settings of the app under test (defaults, on the test's database)."""
    return Settings(database_url=database_url)


@pytest.fixture
def provider() -> PaymentProvider:
    """The app's payment provider: the sandbox, unless a test module overrides this fixture."""
    return SandboxProvider()


@pytest.fixture
async def api(
    settings: Settings, clock: FakeClock, provider: PaymentProvider
) -> AsyncIterator[Api]:
    """The migrated app with a fake clock, driven through httpx over ASGI."""
    app = create_app(settings, clock=clock, provider=provider)
    runtime = app.state.paycheck
    await upgrade(runtime.store.engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paycheck.test") as http:
        yield Api(http, app, clock)
    await runtime.aclose()
