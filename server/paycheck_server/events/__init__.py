"""The token-event feed: an outbox of token deactivations, streamed as Server-Sent Events.

A token is deactivated in three ways: ``paycheck-server revoke``, a ``/token/reset`` (the
previous token stops at the end of its grace) and a second ``/pay`` of its bill. Each appends
an event to the ``token_events`` table *in the transaction that makes the change*
(:func:`append_deactivations`), so an event exists exactly when the change committed, written
by whichever replica or command made it. ``GET /token/events?service=NAME`` streams them
(:class:`Subscription`), read by one :class:`FeedHub` per process; old events are purged
(:func:`purge_events`, periodically by the app and by ``paycheck-server events purge``).

The wire format is described in ``docs/contracts/additions.md`` (the token-event feed).
"""

from __future__ import annotations

from .hub import FeedHub
from .outbox import (
    NOTIFY_CHANNEL,
    Reason,
    TokenEvent,
    append_deactivation,
    append_deactivations,
    log_bounds,
    purge_events,
    read_events,
)
from .retention import purge_interval, purge_periodically

__all__ = [
    "NOTIFY_CHANNEL",
    "FeedHub",
    "Reason",
    "TokenEvent",
    "append_deactivation",
    "append_deactivations",
    "log_bounds",
    "purge_events",
    "purge_interval",
    "purge_periodically",
    "read_events",
]
