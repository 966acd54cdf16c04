"""What ``/pay`` writes down before it calls the payment provider, and the call itself.

The provider cannot be rolled back with the database, so a payment first *claims*, in a
transaction of its own that commits before any charge:

- its ``Idempotency-Key`` record, with no answer yet (:func:`claim_key`): a concurrent request
  with the same key and another body is refused before it can charge anything; one with the
  same body takes the record over (:func:`key_in_progress`) and gets the same answer;
- the bill's charge attempt (:func:`claim_charge_attempt`): from then on the database says
  that the provider may have charged the bill, until the charge is recorded
  (:func:`forget_charge_attempt`) or declined (:func:`decline_attempt`).

:func:`charge` calls the provider with the attempt's idempotency key, so that the retry of a
request cut off after the provider charged gets that charge back, not a second one. The
functions take a connection and run in the caller's transaction.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from paycheck_core.tokens import constant_time_equal
from paycheck_core.tokens import digest as secret_digest

from . import db
from .errors import UnavailableError
from .idempotency import KeyTaken, NewKey
from .payments import Charge, ChargeDeclined, PaymentProvider

__all__ = [
    "answer_key",
    "charge",
    "claim_charge_attempt",
    "claim_key",
    "decline_attempt",
    "drop_expired_key",
    "forget_charge_attempt",
    "key_in_progress",
    "key_record",
    "pending_attempt",
]

logger = logging.getLogger("paycheck_server")


def _insert_unless_present(connection: AsyncConnection, table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


# --- the Idempotency-Key record ---------------------------------------------------------------


async def drop_expired_key(connection: AsyncConnection, key: NewKey, *, now: datetime) -> None:
    """Delete the key's record if it has expired, so that the key can be used again."""
    table = db.idempotency_keys
    await connection.execute(
        delete(table).where(
            table.c.endpoint == key.endpoint,
            table.c.key_digest == key.key_digest,
            table.c.expires_at <= now,
        )
    )


def key_record(
    key: NewKey, *, response: str | None, ttl_seconds: int, now: datetime
) -> dict[str, Any]:
    """The columns of the key's ``idempotency_keys`` row (digests only, never the secret)."""
    return {
        "endpoint": key.endpoint,
        "key_digest": key.key_digest,
        "request_digest": key.request_digest,
        "salt": key.salt,
        "secret_digest": secret_digest(key.secret),
        "response": response,
        "created_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds),
    }


async def claim_key(
    connection: AsyncConnection, key: NewKey, *, ttl_seconds: int, now: datetime
) -> NewKey:
    """Store the key's record with no answer yet, or take over one in progress for this body.

    Returns:
        the key with the salt of its record (another request's, when taken over).

    Raises:
        KeyTaken: the key has an answer already, or was used with another body.
    """
    table = db.idempotency_keys
    await drop_expired_key(connection, key, now=now)
    # On PostgreSQL this waits for a concurrent claim of the key to commit or roll back.
    await connection.execute(
        _insert_unless_present(connection, table).values(
            **key_record(key, response=None, ttl_seconds=ttl_seconds, now=now)
        )
    )
    claimed = await key_in_progress(connection, key)
    if claimed is None:  # pragma: no cover - inserted or found just above, in this transaction
        raise KeyTaken
    return claimed


async def key_in_progress(connection: AsyncConnection, key: NewKey) -> NewKey | None:
    """The key with the salt of its record in progress, or ``None`` when it has no record.

    Raises:
        KeyTaken: the record has an answer, or another request body.
    """
    table = db.idempotency_keys
    row = (
        await connection.execute(
            select(table.c.request_digest, table.c.salt, table.c.response).where(
                table.c.endpoint == key.endpoint, table.c.key_digest == key.key_digest
            )
        )
    ).one_or_none()
    if row is None:
        return None
    if row.response is not None or not constant_time_equal(row.request_digest, key.request_digest):
        raise KeyTaken
    return key.resumed(row.salt)


async def answer_key(connection: AsyncConnection, key: NewKey, response: dict[str, Any]) -> None:
    """Store the answer (without its secret) in the key's record in progress."""
    table = db.idempotency_keys
    await connection.execute(
        update(table)
        .where(
            table.c.endpoint == key.endpoint,
            table.c.key_digest == key.key_digest,
            table.c.salt == key.salt,
        )
        .values(response=json.dumps(response))
    )


# --- the charge attempt -----------------------------------------------------------------------


async def claim_charge_attempt(
    connection: AsyncConnection, bill_id: str, *, expired: bool, now: datetime
) -> Literal["claimed", "pending", "expired"]:
    """Write down that the unpaid bill may be charged from now on.

    A pending attempt is left as it is (``"pending"``): the provider may have charged it, so it
    is resumed even after the bill's deadline. After a decline, the next attempt gets the next
    number. An ``expired`` bill with no attempt pending is not claimed (``"expired"``).
    """
    attempts = db.charge_attempts
    status = await connection.scalar(select(attempts.c.status).where(attempts.c.bill_id == bill_id))
    if status == "pending":
        return "pending"
    if expired:
        return "expired"
    if status is None:
        await connection.execute(
            _insert_unless_present(connection, attempts).values(
                bill_id=bill_id, attempt=1, status="pending", started_at=now
            )
        )
    else:
        await connection.execute(
            update(attempts)
            .where(attempts.c.bill_id == bill_id, attempts.c.status == "declined")
            .values(attempt=attempts.c.attempt + 1, status="pending", started_at=now)
        )
    return "claimed"


async def pending_attempt(connection: AsyncConnection, bill_id: str) -> int | None:
    """The number of the bill's pending attempt, or ``None`` when none is pending."""
    attempts = db.charge_attempts
    number: int | None = await connection.scalar(
        select(attempts.c.attempt).where(
            attempts.c.bill_id == bill_id, attempts.c.status == "pending"
        )
    )
    return number


async def forget_charge_attempt(connection: AsyncConnection, bill_id: str) -> None:
    """The bill is paid: no attempt of it is under way any more."""
    await connection.execute(
        delete(db.charge_attempts).where(db.charge_attempts.c.bill_id == bill_id)
    )


async def decline_attempt(connection: AsyncConnection, bill_id: str, key: NewKey | None) -> None:
    """The attempt charged nothing: the next one gets a new number; the key is free again."""
    await connection.execute(
        update(db.charge_attempts)
        .where(db.charge_attempts.c.bill_id == bill_id)
        .values(status="declined")
    )
    if key is not None:
        table = db.idempotency_keys
        await connection.execute(
            delete(table).where(
                table.c.endpoint == key.endpoint,
                table.c.key_digest == key.key_digest,
                table.c.response.is_(None),
            )
        )


async def charge(
    provider: PaymentProvider,
    *,
    bill_id: str,
    amount_minor: int,
    currency: str,
    card: str | None,
    attempt: int,
) -> Charge:
    """The provider's charge for the attempt; the same charge again for a resumed attempt.

    Raises:
        ChargeDeclined: the provider declined.
        UnavailableError: the outcome is unknown (the provider failed or did not answer).
    """
    try:
        return await provider.charge(
            bill_id=bill_id,
            amount_minor=amount_minor,
            currency=currency,
            card=card,
            idempotency_key=f"{bill_id}/{attempt}",
        )
    except ChargeDeclined:
        raise
    except Exception as exc:
        logger.warning(
            "payment provider failed on %s attempt %d (%s); the attempt stays pending",
            bill_id,
            attempt,
            type(exc).__name__,
        )
        raise UnavailableError(
            "The payment provider did not confirm the payment; retry the same request "
            "(with the same Idempotency-Key): a bill is never charged twice"
        ) from exc
