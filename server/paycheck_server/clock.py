"""The server's clock, injectable so that tests move time instead of sleeping.

Every rule that depends on time (bill expiry, token grace, the days of a period, ``max-age``)
asks a :class:`Clock` for ``now()``; the server never calls :func:`datetime.now` elsewhere.
:class:`paycheck_server.testing.FakeClock` is the clock tests use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Where the server reads the current time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock (UTC).

    Example::

        >>> SystemClock().now().tzinfo
        datetime.timezone.utc
    """

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)
