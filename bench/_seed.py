"""Fill a payment server's database with many issued tokens, quickly, for benchmark 6.

Rows go straight into the server's own tables (:mod:`paycheck_server.db`), after its own
migrations, through SQLAlchemy Core's ``executemany`` in large batches. Every bill is paid, for
the demo catalog's ``Online marketplace``, with one line (``getInfo``), and has issued
:data:`TOKENS_PER_BILL` tokens: the current one and the ones its resets replaced, whose grace
is over. Tokens are stored as the server stores them, by SHA-256 digest; the digests are of
random bytes, since nobody needs to hold these tokens: they only make the table as large as a
busy server's.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, insert, literal_column
from sqlalchemy.ext.asyncio import AsyncEngine

from paycheck_server import db
from paycheck_server.migrate import upgrade

__all__ = ["BATCH", "TOKENS_PER_BILL", "seed_tokens"]

BATCH = 50_000
"""Token rows per ``executemany``."""

TOKENS_PER_BILL = 10
"""Tokens issued per bill: one current, the others replaced by resets."""

SERVICE = "Online marketplace"
METHOD = "getInfo"


def _digests(count: int) -> list[str]:
    raw = secrets.token_bytes(32 * count)
    return [raw[index : index + 32].hex() for index in range(0, 32 * count, 32)]


async def seed_tokens(url: str, count: int) -> None:
    """Migrate the database at ``url`` and add ``count`` issued tokens (a multiple of 10)."""
    if count < TOKENS_PER_BILL or count % TOKENS_PER_BILL:
        raise ValueError(f"count must be a positive multiple of {TOKENS_PER_BILL}, not {count}")
    engine = db.create_engine(url)
    try:
        await upgrade(engine)
        now = datetime.now(UTC)
        today = now.date()
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            await _batch(engine, start, size, now, today)
    finally:
        await engine.dispose()


async def _batch(engine: AsyncEngine, start: int, size: int, now: datetime, today: date) -> None:
    ids = [f"bill_seed{index:024d}" for index in range(start, start + size, TOKENS_PER_BILL)]
    artifacts = _digests(len(ids))
    tokens = sorted(_digests(size))  # in index order: fewer pages touched per batch
    replaced = now - timedelta(days=1)
    bills = [
        {
            "id": bill_id,
            "artifact_digest": artifact,
            "service_name": SERVICE,
            "date_from": today,
            "date_to": today + timedelta(days=30),
            "currency": "USD",
            "total_minor": 3720,
            "status": "paid",
            "token_generation": 1,
            "created_at": now,
            "expires_at": now + timedelta(days=1),
            "paid_at": now,
        }
        for bill_id, artifact in zip(ids, artifacts, strict=True)
    ]
    lines = [
        {"bill_id": bill_id, "position": 0, "method_name": METHOD, "price_minor": 120}
        for bill_id in ids
    ]
    # Per-row bind processing is most of SQLAlchemy's cost here: the token rows carry only
    # their two strings, and the instants, the same for every row, are written into the SQL.
    current = [
        {"bill_id": ids[index // TOKENS_PER_BILL], "digest": digest}
        for index, digest in enumerate(tokens)
        if index % TOKENS_PER_BILL == TOKENS_PER_BILL - 1
    ]
    old = [
        {"bill_id": ids[index // TOKENS_PER_BILL], "digest": digest}
        for index, digest in enumerate(tokens)
        if index % TOKENS_PER_BILL != TOKENS_PER_BILL - 1
    ]
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            # Random digests land all over the unique index: with SQLite's default 2 MB page
            # cache every insert would go back to the file.
            await connection.exec_driver_sql("PRAGMA cache_size = -262144")
        await connection.execute(insert(db.bills), bills)
        await connection.execute(insert(db.bill_lines), lines)
        await connection.execute(
            insert(db.tokens).values(created_at=_instant(now), expires_at=None), current
        )
        await connection.execute(
            insert(db.tokens).values(created_at=_instant(now), expires_at=_instant(replaced)), old
        )


def _instant(moment: datetime) -> ColumnElement[Any]:
    """``moment`` as a SQL literal in the form both databases read back (naive UTC)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return literal_column(f"'{naive:%Y-%m-%d %H:%M:%S.%f}'")
