"""Suite-wide rules.

Under ``CI=true`` a skipped PostgreSQL test is a failure: CI provides PostgreSQL, so a skip
there means the tests that guard several replicas did not run. On a laptop without
PostgreSQL those tests skip with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if IN_CI and report.skipped and item.get_closest_marker("postgres") is not None:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"PostgreSQL test skipped under CI=true: {reason}"
    return report


@pytest.fixture
def postgres_url() -> Generator[str, None, None]:
    """A ``postgresql+asyncpg://`` URL of a new, empty database, dropped after the test.

    The server is reached through ``PAYCHECK_TEST_POSTGRES_URL`` (for example
    ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); each test gets its own database
    so that tests and engineers running them at the same time never see each other's rows.
    Skips, saying why, when the variable is unset or the server cannot be reached; mark the
    test ``@pytest.mark.postgres`` so that CI fails instead of skipping.
    """
    import asyncio
    import uuid

    import asyncpg
    from sqlalchemy.engine import make_url

    base = os.environ.get("PAYCHECK_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PAYCHECK_TEST_POSTGRES_URL is not set")
    url = make_url(base).set(drivername="postgresql+asyncpg")
    name = f"paycheck_test_{uuid.uuid4().hex[:16]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
            timeout=5,
        )
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL at {url.render_as_string()} cannot be used: {exc}")
    yield url.set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
