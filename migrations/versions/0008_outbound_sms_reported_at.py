"""outbound_sms.reported_at: when a message's first delivery report was applied

Revision ID: 0008
Revises: 0007

A nullable column with no default: PostgreSQL adds it without rewriting the
table. It has no index, so a delivery report's update stays heap-only (HOT).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_sms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_sms", schema=None) as batch_op:
        batch_op.drop_column("reported_at")
