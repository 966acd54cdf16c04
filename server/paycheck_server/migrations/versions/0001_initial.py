"""Bills, their lines, charges, tokens and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paycheck_server.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bills",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("artifact_digest", sa.String(64), nullable=False),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("token_generation", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('unpaid', 'paid')", name=op.f("ck_bills_status")),
        sa.PrimaryKeyConstraint("id", name="pk_bills"),
        sa.UniqueConstraint("artifact_digest", name="uq_bills_artifact_digest"),
    )
    op.create_table(
        "bill_lines",
        sa.Column("bill_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("method_name", sa.String(200), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name="fk_bill_lines_bill_id_bills"),
        sa.PrimaryKeyConstraint("bill_id", "position", name="pk_bill_lines"),
    )
    op.create_table(
        "charges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bill_id", sa.String(40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name="fk_charges_bill_id_bills"),
        sa.PrimaryKeyConstraint("id", name="pk_charges"),
        sa.UniqueConstraint("bill_id", name="uq_charges_bill_id"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bill_id", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name="fk_tokens_bill_id_bills"),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("digest", name="uq_tokens_digest"),
    )
    op.create_index("ix_tokens_bill_id", "tokens", ["bill_id"])
    op.create_index(
        "uq_tokens_current",
        "tokens",
        ["bill_id"],
        unique=True,
        sqlite_where=sa.text("expires_at IS NULL"),
        postgresql_where=sa.text("expires_at IS NULL"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("endpoint", sa.String(40), nullable=False),
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "key_digest", name="pk_idempotency_keys"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("uq_tokens_current", table_name="tokens")
    op.drop_index("ix_tokens_bill_id", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("charges")
    op.drop_table("bill_lines")
    op.drop_table("bills")
