"""produce offers, waiting delivery reports

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waiting_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("network_code", sa.String(length=8), nullable=True),
        sa.Column("failure_reason", sa.String(length=120), nullable=True),
        sa.Column("apply_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_report")),
    )
    with op.batch_alter_table("waiting_report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_waiting_report_apply_after"), ["apply_after"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_waiting_report_msisdn"), ["msisdn"], unique=False)

    op.create_table(
        "produce_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("produce", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("total_price", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("price_per_kg", sa.Numeric(precision=16, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("location", sa.String(length=80), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "sold",
                "cancelled",
                "expired",
                name="offerstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_id"], ["area.id"], name=op.f("fk_produce_offer_area_id_area")
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["inbound_sms.id"],
            name=op.f("fk_produce_offer_inbound_id_inbound_sms"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_produce_offer")),
        sa.UniqueConstraint("inbound_id", name=op.f("uq_produce_offer_inbound_id")),
    )
    with op.batch_alter_table("produce_offer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_produce_offer_market", ["produce", "status", "area_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_produce_offer_msisdn"), ["msisdn"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("produce_offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_produce_offer_msisdn"))
        batch_op.drop_index("ix_produce_offer_market")

    op.drop_table("produce_offer")
    with op.batch_alter_table("waiting_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waiting_report_msisdn"))
        batch_op.drop_index(batch_op.f("ix_waiting_report_apply_after"))

    op.drop_table("waiting_report")
