"""The outbox table ``token_events``: writes in the caller's transaction, reads, purge.

Every change that deactivates a token calls :func:`append_deactivations` (or
:func:`append_deactivation`) on the connection of its own transaction, after the UPDATE that
set the token's deadline: the event commits with the change or not at all. On PostgreSQL the
same transaction sends ``NOTIFY`` on :data:`NOTIFY_CHANNEL`, which PostgreSQL delivers only on
commit, so a listener never reads before the row is visible.

An event holds the token's SHA-256 digest, never the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import (
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .. import db

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

Reason = Literal["revoked", "reset", "replaced"]
"""Why a token stopped: ``paycheck-server revoke``, a ``/token/reset`` (the previous token at
the end of its grace, older ones at once), a second ``/pay`` of the bill."""

assert get_args(Reason) == db.TOKEN_EVENT_REASONS

NOTIFY_CHANNEL = "paycheck_token_events"
"""The PostgreSQL ``LISTEN``/``NOTIFY`` channel that says "new token events committed"."""

_EVENTS = db.token_events
_TOKENS = db.tokens


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One stored deactivation.

    Attributes:
        id: increasing event id (the feed's ``id:``).
        service: the service name of the token's bill.
        token_digest: SHA-256 hex digest of the token.
        stops_at: the instant the token stops working (UTC, may be past).
        reason: ``"revoked"``, ``"reset"`` or ``"replaced"``.
    """

    id: int
    service: str
    token_digest: str
    stops_at: datetime
    reason: Reason


def _check_reason(reason: str) -> None:
    if reason not in db.TOKEN_EVENT_REASONS:
        raise ValueError(f"reason must be one of {', '.join(db.TOKEN_EVENT_REASONS)}: {reason!r}")


async def _notify(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL}
        )


async def append_deactivation(
    connection: AsyncConnection,
    *,
    service: str,
    token_digest: str,
    stops_at: datetime,
    reason: Reason,
    now: datetime,
) -> None:
    """Append one event, in the transaction ``connection`` is in.

    Args:
        connection: the connection of the transaction that deactivates the token.
        service: the service name of the token's bill.
        token_digest: the token's SHA-256 hex digest (never the token).
        stops_at: when the token stops working (timezone-aware).
        reason: ``"revoked"``, ``"reset"`` or ``"replaced"``.
        now: the time of the change (kept for the retention).

    Raises:
        ValueError: ``reason`` is not one of the three.
    """
    _check_reason(reason)
    await connection.execute(
        insert(_EVENTS).values(
            service_name=service,
            token_digest=token_digest,
            stops_at=stops_at,
            reason=reason,
            created_at=now,
        )
    )
    await _notify(connection)


async def append_deactivations(
    connection: AsyncConnection,
    *,
    reason: Reason,
    now: datetime,
    bill_id: str | None = None,
    token_digest: str | None = None,
) -> int:
    """Append an event for each token whose new deadline is not announced yet.

    Call it in the transaction that set the deadlines, after the UPDATE. It looks at the
    tokens of ``bill_id`` (or the one token ``token_digest``) that have a deadline at or after
    ``now`` and no event with that very deadline, and appends one event for each: the token's
    digest, its bill's service, its deadline. So one call covers whatever the UPDATE did (the
    previous token given its grace, older ones cut to ``now``), and calling it twice appends
    nothing twice.

    Args:
        connection: the connection of the transaction that changed the deadlines.
        reason: ``"revoked"``, ``"reset"`` or ``"replaced"``.
        now: the time of the change, the one the UPDATE used.
        bill_id: look at every token of this bill ...
        token_digest: ... or at this token only.

    Returns:
        How many events were appended.

    Raises:
        ValueError: not exactly one of ``bill_id`` and ``token_digest``, or a bad ``reason``.
    """
    _check_reason(reason)
    if (bill_id is None) == (token_digest is None):
        raise ValueError("give exactly one of bill_id and token_digest")
    which = (
        _TOKENS.c.bill_id == bill_id if bill_id is not None else _TOKENS.c.digest == token_digest
    )
    announced = _EVENTS.alias("announced")
    moment = bindparam("now", now, type_=db.UTCDateTime)
    tokens = (
        select(
            db.bills.c.service_name,
            _TOKENS.c.digest,
            _TOKENS.c.expires_at,
            literal(reason, String(10)),
            moment,
        )
        .select_from(_TOKENS.join(db.bills))
        .where(
            which,
            _TOKENS.c.expires_at.is_not(None),
            _TOKENS.c.expires_at >= moment,
            ~exists().where(
                announced.c.token_digest == _TOKENS.c.digest,
                announced.c.stops_at == _TOKENS.c.expires_at,
            ),
        )
    )
    columns = ["service_name", "token_digest", "stops_at", "reason", "created_at"]
    result = await connection.execute(insert(_EVENTS).from_select(columns, tokens))
    # Some drivers cannot count an INSERT ... SELECT (-1): notify then, a spare wake-up.
    appended = result.rowcount
    if appended != 0:
        await _notify(connection)
    return max(appended, 0)


def _event(row: Any) -> TokenEvent:
    return TokenEvent(row.id, row.service_name, row.token_digest, row.stops_at, row.reason)


async def read_events(
    connection: AsyncConnection,
    *,
    after: int,
    up_to: int | None = None,
    service: str | None = None,
    also: Sequence[int] = (),
    limit: int = 500,
) -> list[TokenEvent]:
    """Events with ``after < id <= up_to`` (and those with an id in ``also``), in id order.

    Args:
        connection: any connection.
        after: the id to read after.
        up_to: the last id to read; no bound when ``None``.
        service: only this service's events; every service's when ``None``.
        also: ids to read besides, wherever they are (late commits, see the hub).
        limit: at most this many events.
    """
    columns = _EVENTS.c
    window = columns.id > after
    if up_to is not None:
        window = and_(window, columns.id <= up_to)
    if also:
        window = or_(window, columns.id.in_(list(also)))
    query = select(_EVENTS).where(window).order_by(columns.id).limit(limit)
    if service is not None:
        query = query.where(columns.service_name == service)
    return [_event(row) for row in await connection.execute(query)]


async def log_bounds(connection: AsyncConnection) -> tuple[int, int]:
    """``(oldest, newest)`` event ids kept; ``(0, 0)`` when there is none."""
    row = (await connection.execute(select(func.min(_EVENTS.c.id), func.max(_EVENTS.c.id)))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def purge_events(engine: AsyncEngine, *, now: datetime, retention_seconds: float) -> int:
    """Delete the events older than ``retention_seconds``; returns how many.

    The newest event is always kept, whatever its age: it carries the newest id, which a
    follower resuming after a long time is compared with (a larger id than the server's means
    another database, and a ``reset``).
    """
    cutoff = now - timedelta(seconds=retention_seconds)
    newest = select(func.max(_EVENTS.c.id)).scalar_subquery()
    statement = delete(_EVENTS).where(_EVENTS.c.created_at < cutoff, _EVENTS.c.id < newest)
    async with engine.connect() as connection:
        connection = await connection.execution_options(sqlite_begin="IMMEDIATE")
        async with connection.begin():
            result = await connection.execute(statement)
    return max(result.rowcount, 0)
