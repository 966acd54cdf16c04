"""The token-event feed's outbox: token deactivations, recorded with the change itself.

A token is deactivated in three ways: ``paycheck-server revoke``, a ``/token/reset`` (the
previous token stops at the end of its grace) and a second ``/pay`` of its bill. Each appends
an event to the ``token_events`` table *in the transaction that makes the change*
(:func:`append_deactivations`), so an event exists exactly when the change committed, written
by whichever replica or command made it.
"""

from __future__ import annotations

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

__all__ = [
    "NOTIFY_CHANNEL",
    "Reason",
    "TokenEvent",
    "append_deactivation",
    "append_deactivations",
    "log_bounds",
    "purge_events",
    "read_events",
]
