"""market contacts, price alerts, jobs

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("titles", sa.JSON(), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("employer", sa.String(length=80), nullable=False),
        sa.Column("contact_msisdn", sa.String(length=16), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("wage", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("wage_period", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="jobstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"], name=op.f("fk_job_area_id_area")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_area_id"), ["area_id"], unique=False)
        batch_op.create_index("ix_job_open", ["status", "closes_on"], unique=False)

    op.create_table(
        "contact_request",
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("buyer_msisdn", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["produce_offer.id"],
            name=op.f("fk_contact_request_offer_id_produce_offer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("offer_id", "buyer_msisdn", name=op.f("pk_contact_request")),
    )
    with op.batch_alter_table("contact_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_request_buyer_msisdn"), ["buyer_msisdn"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contact_request_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "job_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("start", sa.String(length=8), nullable=False),
        sa.Column("skills", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_application_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_application")),
        sa.UniqueConstraint("job_id", "msisdn", name=op.f("uq_job_application_job_id")),
    )
    with op.batch_alter_table("job_application", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_application_msisdn"), ["msisdn"], unique=False)

    op.create_table(
        "price_alert",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("produce", sa.String(length=40), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"], name=op.f("fk_price_alert_area_id_area")),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_price_alert_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "produce", name=op.f("pk_price_alert")),
    )
    with op.batch_alter_table("price_alert", schema=None) as batch_op:
        batch_op.create_index("ix_price_alert_produce_area", ["produce", "area_id"], unique=False)

    with op.batch_alter_table("produce_offer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_produce_offer_prices", ["produce", "created_at"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_produce_offer_dedup_key"), ["dedup_key"]
        )

    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shares_contact", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("shares_contact")

    with op.batch_alter_table("produce_offer", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_produce_offer_dedup_key"), type_="unique")
        batch_op.drop_index("ix_produce_offer_prices")
        batch_op.drop_column("dedup_key")

    with op.batch_alter_table("price_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_price_alert_produce_area")

    op.drop_table("price_alert")
    with op.batch_alter_table("job_application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_application_msisdn"))

    op.drop_table("job_application")
    with op.batch_alter_table("contact_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_request_created_at"))
        batch_op.drop_index(batch_op.f("ix_contact_request_buyer_msisdn"))

    op.drop_table("contact_request")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_open")
        batch_op.drop_index(batch_op.f("ix_job_area_id"))

    op.drop_table("job")
