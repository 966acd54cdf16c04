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
