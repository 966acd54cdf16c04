"""Every read and write of the server's database, one transaction per operation.

The concurrency rules live in the SQL, not in read-then-write code:

- every write that issues a token first locks the bill's row (PostgreSQL; SQLite holds its
  write lock anyway): a reset bumps ``bills.token_generation``, a payment selects the row
  ``FOR UPDATE``; so writes to one bill happen one after the other, across processes.
  ``charges.bill_id`` is UNIQUE besides;
- write transactions on SQLite start with ``BEGIN IMMEDIATE`` (see :mod:`paycheck_server.db`).

Paying calls the payment provider, which the database cannot roll back, so it takes two
transactions. The first *claims* (:mod:`paycheck_server.claims`): it stores the
``Idempotency-Key`` record with no answer yet and writes the charge attempt down
(``charge_attempts``), then commits. The second locks the
bill, calls the provider with the attempt's idempotency key, and records the charge, the token
and the key's answer. A request cut off between the provider's charge and that commit leaves
the attempt pending; its retry calls the provider again with the same key and gets the same
charge back, so the provider has charged a bill exactly when the database says so.

``/bill`` given a :class:`Memo` stores its key's record with the bill, in one transaction; a
concurrent request with the same key then fails on the primary key, rolls back, and replays
the winner's answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Row, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from paycheck_core.tokens import digest as secret_digest

from . import claims, db
from .access import TokenState
from .clock import Clock
from .domain import BillLine, Period, Quote, bill_deadline
from .errors import NotFoundError, PaymentDeclinedError, UnavailableError
from .events import append_deactivations
from .fastread import TokenStateReads
from .idempotency import KeyTaken, NewKey, StoredKey
from .payments import Charge, ChargeDeclined, PaymentProvider

__all__ = ["Memo", "PayResult", "Store", "StoredBill"]

T = TypeVar("T")

ARTIFACT_NOT_FOUND = "Artifact is not found"

# A payment claims again when a concurrent request's decline ended the attempt it claimed;
# more rounds than this mean a storm of declines on one bill.
_PAY_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class StoredBill:
    """A bill as stored (its artifact is not: only its digest is)."""

    id: str
    service: str
    period: Period
    currency: str
    total_minor: int
    status: Literal["unpaid", "paid"]
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    lines: tuple[BillLine, ...]


@dataclass(frozen=True, slots=True)
class PayResult:
    """The outcome of ``/pay``: the paid bill, whether this request charged it, its token.

    ``token`` is the plaintext token issued, kept in memory only for the answer.
    """

    bill: StoredBill
    charged: bool
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Memo(Generic[T]):
    """An ``Idempotency-Key`` to remember with an operation's answer.

    Attributes:
        key: the new key's record (digests, salt, derived secret).
        render: the answer without its secret, from the operation's result.
        ttl_seconds: how long the key is remembered.
    """

    key: NewKey
    render: Callable[[T], dict[str, Any]]
    ttl_seconds: int


class Store:
    """The database operations of the payment server.

    Args:
        engine: an engine made by :func:`paycheck_server.db.create_engine`.
        clock: where "now" comes from.
        fast_reads: read token states by the shortest path (:mod:`paycheck_server.fastread`);
            ``False`` reads them through ``engine`` like everything else.

    Raises:
        ValueError: ``fast_reads`` is not a bool.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Clock, fast_reads: bool = True) -> None:
        if not isinstance(fast_reads, bool):
            raise ValueError(f"fast_reads must be True or False, not {fast_reads!r}")
        self.engine = engine
        self._clock = clock
        self.reads = TokenStateReads(engine, fast=fast_reads)
        """The reads of token states (its ``sqlite_reader`` says how many it answered)."""

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(sqlite_begin="IMMEDIATE")
            async with connection.begin():
                yield connection

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises the driver's error when the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def aclose(self) -> None:
        """Close every pooled connection, and the token state reads' own."""
        await self.reads.aclose()
        await self.engine.dispose()

    # --- reads --------------------------------------------------------------------------------

    async def _bill(self, connection: AsyncConnection, artifact_digest: str) -> StoredBill | None:
        row = (
            await connection.execute(
                select(db.bills).where(db.bills.c.artifact_digest == artifact_digest)
            )
        ).one_or_none()
        if row is None:
            return None
        lines = await connection.execute(
            select(db.bill_lines.c.method_name, db.bill_lines.c.price_minor)
            .where(db.bill_lines.c.bill_id == row.id)
            .order_by(db.bill_lines.c.position)
        )
        return _bill_from(row, tuple(BillLine(name, price) for name, price in lines))

    async def paid_bill(self, artifact_digest: str) -> StoredBill:
        """The paid bill of an artifact (``/payment/info``).

        Raises:
            NotFoundError: the artifact is unknown, or its bill is not paid.
        """
        async with self.engine.connect() as connection:
            bill = await self._bill(connection, artifact_digest)
        if bill is None:
            raise NotFoundError(ARTIFACT_NOT_FOUND)
        if bill.status != "paid":
            raise NotFoundError(_not_paid(bill, self._clock.now()))
        return bill

    async def token_state(self, token_digest: str) -> TokenState | None:
        """What is known of the token with this digest, or ``None`` when it is unknown.

        Read by the shortest path the database offers (see :mod:`paycheck_server.fastread`).
        """
        return await self.reads.token_state(token_digest)

    async def find_key(self, endpoint: str, key_digest: str) -> StoredKey | None:
        """The unexpired ``Idempotency-Key`` record of ``endpoint``, or ``None``."""
        query = select(db.idempotency_keys).where(
            db.idempotency_keys.c.endpoint == endpoint,
            db.idempotency_keys.c.key_digest == key_digest,
            db.idempotency_keys.c.expires_at > self._clock.now(),
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        if row is None:
            return None
        response = None if row.response is None else json.loads(row.response)
        return StoredKey(row.request_digest, row.salt, row.secret_digest, response)

    # --- writes -------------------------------------------------------------------------------

    async def _remember(
        self, connection: AsyncConnection, memo: Memo[T] | None, result: T, now: datetime
    ) -> None:
        if memo is None:
            return
        # An expired record of the same key gives way; a live one makes the insert fail.
        await claims.drop_expired_key(connection, memo.key, now=now)
        record = claims.key_record(
            memo.key,
            response=json.dumps(memo.render(result)),
            ttl_seconds=memo.ttl_seconds,
            now=now,
        )
        await connection.execute(insert(db.idempotency_keys).values(**record))

    async def create_bill(
        self,
        quote: Quote,
        *,
        artifact_digest: str,
        currency: str,
        ttl_seconds: int,
        memo: Memo[StoredBill] | None = None,
    ) -> StoredBill:
        """Store a new unpaid bill for ``quote``, payable for ``ttl_seconds``."""
        now = self._clock.now()
        bill = StoredBill(
            id=f"bill_{uuid.uuid4().hex}",
            service=quote.service,
            period=quote.period,
            currency=currency,
            total_minor=quote.total_minor,
            status="unpaid",
            created_at=now,
            expires_at=bill_deadline(now, ttl_seconds),
            paid_at=None,
            lines=quote.lines,
        )
        async with self._write() as connection:
            await connection.execute(
                insert(db.bills).values(
                    id=bill.id,
                    artifact_digest=artifact_digest,
                    service_name=bill.service,
                    date_from=bill.period.date_from,
                    date_to=bill.period.date_to,
                    currency=currency,
                    total_minor=bill.total_minor,
                    status="unpaid",
                    token_generation=0,
                    created_at=now,
                    expires_at=bill.expires_at,
                )
            )
            await connection.execute(
                insert(db.bill_lines),
                [
                    {
                        "bill_id": bill.id,
                        "position": position,
                        "method_name": line.method,
                        "price_minor": line.price_minor,
                    }
                    for position, line in enumerate(bill.lines)
                ],
            )
            await self._remember(connection, memo, bill, now)
        return bill

    async def pay(
        self,
        artifact_digest: str,
        *,
        token: str,
        provider: PaymentProvider,
        card: str | None,
        grace_seconds: int,
        memo: Memo[PayResult] | None = None,
    ) -> PayResult:
        """Pay the bill of an artifact (once ever) and issue a new current token.

        On a bill paid before nothing is charged; the previous current token keeps working for
        ``grace_seconds`` and one already in its grace stops at once, as on a reset. A charge
        attempt left pending by a request cut off is resumed, also after the bill's deadline.

        Args:
            artifact_digest: the digest of the bill's artifact.
            token: the new token (without ``memo``); with one, the token is the key's secret.
            provider: the payment provider.
            card: what the client pays with.
            grace_seconds: how long a replaced token keeps working.
            memo: the ``Idempotency-Key`` to claim first, then answer.

        Raises:
            NotFoundError: the artifact is unknown, or its unpaid bill has expired.
            PaymentDeclinedError: the provider declined; nothing was charged.
            UnavailableError: the provider's outcome is unknown; the attempt stays pending
                and a retry resolves it.
            KeyTaken: ``memo``'s key has an answer already, or was used with another body.
        """
        for _ in range(_PAY_ROUNDS):
            bill, key = await self._claim_payment(artifact_digest, memo)
            result = await self._settle_payment(
                bill,
                key,
                token,
                provider=provider,
                card=card,
                grace_seconds=grace_seconds,
                memo=memo,
            )
            if result is not None:
                return result
        raise UnavailableError("The bill is being paid by another request; retry in a moment")

    async def _claim_payment(
        self, artifact_digest: str, memo: Memo[PayResult] | None
    ) -> tuple[StoredBill, NewKey | None]:
        # Committed before the provider is called: whatever happens next, the key is taken
        # and the database knows that a charge of the bill may be under way.
        now = self._clock.now()
        async with self._write() as connection:
            bill = await self._bill(connection, artifact_digest)
            if bill is None:
                raise NotFoundError(ARTIFACT_NOT_FOUND)
            key = None
            if memo is not None:
                key = await claims.claim_key(
                    connection, memo.key, ttl_seconds=memo.ttl_seconds, now=now
                )
            if bill.status == "unpaid":
                claimed = await claims.claim_charge_attempt(
                    connection, bill.id, expired=bill.expires_at <= now, now=now
                )
                if claimed == "expired":
                    raise NotFoundError(_not_paid(bill, now))
        return bill, key

    async def _settle_payment(
        self,
        bill: StoredBill,
        key: NewKey | None,
        token: str,
        provider: PaymentProvider,
        *,
        card: str | None,
        grace_seconds: int,
        memo: Memo[PayResult] | None,
    ) -> PayResult | None:
        """Charge the claimed attempt (or find the bill paid) and issue the token.

        Returns ``None`` when the claim is void (a concurrent request's decline ended the
        attempt, or removed the key's record): the caller claims again.
        """
        now = self._clock.now()
        async with self._write() as connection:
            status = await _lock_bill(connection, bill.id)
            if status == "paid":
                # A claim written while a concurrent payment recorded its charge: void.
                await claims.forget_charge_attempt(connection, bill.id)
            # Failures are returned, not raised, so that this transaction still commits what
            # it wrote: the void claim above, a declined attempt.
            outcome = await _charge_and_issue(
                connection,
                bill,
                status,
                key,
                token,
                provider,
                card=card,
                grace_seconds=grace_seconds,
                memo=memo,
                now=now,
            )
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _lock_paid_bill(self, connection: AsyncConnection, bill_id: str) -> bool:
        locked = await connection.execute(
            update(db.bills)
            .where(db.bills.c.id == bill_id, db.bills.c.status == "paid")
            .values(token_generation=db.bills.c.token_generation + 1)
        )
        return locked.rowcount == 1

    async def reset_token(
        self, artifact_digest: str, *, token_digest: str, grace_seconds: int
    ) -> StoredBill:
        """Issue a new current token for a paid bill.

        The previous current token works ``grace_seconds`` more; a token already in its
        grace stops at once.

        Raises:
            NotFoundError: the artifact is unknown, or its bill is not paid.
        """
        now = self._clock.now()
        async with self._write() as connection:
            bill = await self._bill(connection, artifact_digest)
            if bill is None:
                raise NotFoundError(ARTIFACT_NOT_FOUND)
            if not await self._lock_paid_bill(connection, bill.id):
                raise NotFoundError(_not_paid(bill, now))
            await _supersede_tokens(
                connection, bill.id, now=now, grace_seconds=grace_seconds, reason="reset"
            )
            await _issue(connection, bill.id, token_digest, now)
        return bill

    async def revoke(self, token_digest: str) -> Literal["revoked", "already", "unknown"]:
        """Make the token with this digest stop working now.

        Returns:
            ``"revoked"``, ``"already"`` when it had stopped before, or ``"unknown"``.
        """
        now = self._clock.now()
        async with self._write() as connection:
            if await _revoke_token(connection, token_digest, now):
                return "revoked"
            known = await connection.scalar(
                select(db.tokens.c.id).where(db.tokens.c.digest == token_digest)
            )
        return "unknown" if known is None else "already"


# --- tokens: every deactivation goes through one of the two functions below ------------------


async def _supersede_tokens(
    connection: AsyncConnection,
    bill_id: str,
    *,
    now: datetime,
    grace_seconds: int,
    reason: Literal["reset", "replaced"],
) -> None:
    """Make room for a new current token of a (locked) bill: a reset, or a ``/pay`` of a paid bill.

    The token in its grace stops now and the current one starts its grace, so that a bill has
    at most one current token and one in its grace, whichever endpoint issues them.
    """
    columns = db.tokens.c
    await connection.execute(
        update(db.tokens)
        .where(columns.bill_id == bill_id, columns.expires_at > now)
        .values(expires_at=now)
    )
    await connection.execute(
        update(db.tokens)
        .where(columns.bill_id == bill_id, columns.expires_at.is_(None))
        .values(expires_at=now + timedelta(seconds=grace_seconds))
    )
    # In the same transaction: the token-event feed tells every service of both changes.
    await append_deactivations(connection, bill_id=bill_id, reason=reason, now=now)


async def _revoke_token(connection: AsyncConnection, token_digest: str, now: datetime) -> bool:
    """Stop the token with this digest now; ``False`` when it is unknown or stopped already."""
    changed = await connection.execute(
        update(db.tokens)
        .where(
            db.tokens.c.digest == token_digest,
            or_(db.tokens.c.expires_at.is_(None), db.tokens.c.expires_at > now),
        )
        .values(expires_at=now)
    )
    if changed.rowcount != 1:
        return False
    await append_deactivations(connection, token_digest=token_digest, reason="revoked", now=now)
    return True


# --- paying: the work under the bill's lock (the claims are in paycheck_server.claims) -----------


async def _charge_and_issue(
    connection: AsyncConnection,
    bill: StoredBill,
    status: str,
    key: NewKey | None,
    token: str,
    provider: PaymentProvider,
    *,
    card: str | None,
    grace_seconds: int,
    memo: Memo[PayResult] | None,
    now: datetime,
) -> PayResult | KeyTaken | PaymentDeclinedError | None:
    """The payment's work under the bill's lock; ``None`` when the claim is void."""
    if key is not None:
        try:
            key = await claims.key_in_progress(connection, key)
        except KeyTaken as taken:
            return taken
        if key is None:
            return None
    charged = False
    if status == "unpaid":
        attempt = await claims.pending_attempt(connection, bill.id)
        if attempt is None:
            return None
        try:
            charge = await claims.charge(
                provider,
                bill_id=bill.id,
                amount_minor=bill.total_minor,
                currency=bill.currency,
                card=card,
                attempt=attempt,
            )
        except ChargeDeclined as exc:
            await claims.decline_attempt(connection, bill.id, key)
            return PaymentDeclinedError(f"{exc.reason}; nothing was charged")
        await _record_charge(connection, bill, charge, now)
        charged = True
    else:
        await _supersede_tokens(
            connection, bill.id, now=now, grace_seconds=grace_seconds, reason="replaced"
        )
    if key is not None:
        token = key.secret
    await _issue(connection, bill.id, secret_digest(token), now)
    paid = replace(bill, status="paid", paid_at=now if charged else bill.paid_at)
    result = PayResult(paid, charged, token)
    if key is not None and memo is not None:
        await claims.answer_key(connection, key, memo.render(result))
    return result


async def _lock_bill(connection: AsyncConnection, bill_id: str) -> str:
    """Lock the bill's row for the rest of the transaction and return its status."""
    # FOR UPDATE conflicts with the token_generation bump of a reset; SQLite has no row locks
    # and needs none: its write transactions hold the database's write lock from BEGIN.
    query = select(db.bills.c.status).where(db.bills.c.id == bill_id).with_for_update()
    return str(await connection.scalar(query))


async def _record_charge(
    connection: AsyncConnection, bill: StoredBill, charge: Charge, now: datetime
) -> None:
    await connection.execute(
        insert(db.charges).values(
            bill_id=bill.id,
            amount_minor=bill.total_minor,
            currency=bill.currency,
            provider=charge.provider,
            reference=charge.reference,
            created_at=now,
        )
    )
    await connection.execute(
        update(db.bills)
        .where(db.bills.c.id == bill.id, db.bills.c.status == "unpaid")
        .values(status="paid", paid_at=now)
    )
    await claims.forget_charge_attempt(connection, bill.id)


async def _issue(
    connection: AsyncConnection, bill_id: str, token_digest: str, now: datetime
) -> None:
    await connection.execute(
        insert(db.tokens).values(
            bill_id=bill_id, digest=token_digest, created_at=now, expires_at=None
        )
    )


def _not_paid(bill: StoredBill, now: datetime) -> str:
    if bill.expires_at <= now:
        return "The bill of this artifact expired unpaid; ask for a new bill"
    return "The bill of this artifact is not paid; pay it first"


def _bill_from(row: Row[Any], lines: tuple[BillLine, ...]) -> StoredBill:
    return StoredBill(
        id=row.id,
        service=row.service_name,
        period=Period(row.date_from, row.date_to),
        currency=row.currency,
        total_minor=row.total_minor,
        status=row.status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        paid_at=row.paid_at,
        lines=lines,
    )
