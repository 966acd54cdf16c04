"""The outbox of the token-event feed: one row per token deactivation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paycheck_server.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("service_name", sa.String(200), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("stops_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('revoked', 'reset', 'replaced')", name=op.f("ck_token_events_reason")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_token_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_token_events_token_digest", "token_events", ["token_digest"])
    op.create_index("ix_token_events_created_at", "token_events", ["created_at"])
    op.create_index("ix_token_events_service_name_id", "token_events", ["service_name", "id"])


def downgrade() -> None:
    op.drop_index("ix_token_events_service_name_id", table_name="token_events")
    op.drop_index("ix_token_events_created_at", table_name="token_events")
    op.drop_index("ix_token_events_token_digest", table_name="token_events")
    op.drop_table("token_events")
