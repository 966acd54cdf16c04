"""Helpers for testing code that runs the payment server (shipped, like ``structlog.testing``).

Example::

    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    app = create_app(settings, clock=clock)
    clock.advance(seconds=301)      # the previous token's grace is over
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]


class FakeClock:
    """A clock that stands still until told to move.

    Args:
        start: the first ``now()``; timezone-aware. Defaults to 2030-01-01 12:00 UTC.

    Raises:
        ValueError: ``start`` is naive.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2030, 1, 1, 12, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware, for example tzinfo=UTC")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The time the clock shows."""
        return self._now

    def advance(self, *, days: float = 0, seconds: float = 0) -> datetime:
        """Move forward by ``days`` and ``seconds``; returns the new time.

        Raises:
            ValueError: the move would go backwards.
        """
        step = timedelta(days=days, seconds=seconds)
        if step < timedelta(0):
            raise ValueError("a FakeClock only moves forward; use set() to go elsewhere")
        self._now += step
        return self._now

    def set(self, moment: datetime) -> None:
        """Show ``moment`` (timezone-aware) from now on."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware, for example tzinfo=UTC")
        self._now = moment.astimezone(UTC)
