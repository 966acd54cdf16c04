"""The periodic purge of old token events (``paycheck-server events purge`` does one)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import Clock
from .outbox import purge_events

__all__ = ["purge_interval", "purge_periodically"]

logger = logging.getLogger("paycheck_server.events")


def purge_interval(retention_seconds: float) -> float:
    """How often the app purges: every ten minutes, or every half retention when shorter."""
    return min(600.0, max(retention_seconds / 2, 1.0))


async def purge_periodically(
    engine: AsyncEngine, *, clock: Clock, retention_seconds: float
) -> None:
    """Purge the events older than ``retention_seconds`` now, then every :func:`purge_interval`.

    Runs until cancelled; a failure (the database is down) is logged and tried again at the
    next turn. Every replica may run it: a purge deletes what another one did not yet.
    """
    interval = purge_interval(retention_seconds)
    while True:
        try:
            purged = await purge_events(
                engine, now=clock.now(), retention_seconds=retention_seconds
            )
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("cannot purge old token events: %s", exc)
        else:
            if purged:
                logger.info("purged %d token events older than %g s", purged, retention_seconds)
        await asyncio.sleep(interval)
