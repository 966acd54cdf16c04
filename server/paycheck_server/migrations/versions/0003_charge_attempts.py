"""Charge attempts written before the provider is called; idempotency keys claimed in progress.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paycheck_server.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "charge_attempts",
        sa.Column("bill_id", sa.String(40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'declined')", name=op.f("ck_charge_attempts_status")
        ),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name="fk_charge_attempts_bill_id_bills"),
        sa.PrimaryKeyConstraint("bill_id", name="pk_charge_attempts"),
    )
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("response", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE response IS NULL")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("response", existing_type=sa.Text(), nullable=False)
    op.drop_table("charge_attempts")
