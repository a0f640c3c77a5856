"""campaigns, inbound sms, opt-out

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbound_sms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=16), nullable=False),
        sa.Column("to", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link_id", sa.String(length=64), nullable=True),
        sa.Column("gateway_date", sa.String(length=32), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "processed",
                "failed",
                name="inboundstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_sms")),
        sa.UniqueConstraint("gateway_id", name=op.f("uq_inbound_sms_gateway_id")),
    )
    with op.batch_alter_table("inbound_sms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_sms_msisdn"), ["msisdn"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_sms_status"), ["status"], unique=False)

    op.create_table(
        "message_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=True),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("titles", sa.JSON(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_template")),
        sa.UniqueConstraint("slug", name=op.f("uq_message_template_slug")),
    )
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("default_language", sa.String(length=8), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "scheduled",
                "sending",
                "paused",
                "done",
                "cancelled",
                name="campaignstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("timezone", sa.String(length=40), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("spread_hours", sa.Float(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("cadre_id", sa.Integer(), nullable=True),
        sa.Column("created_via", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=160), nullable=True),
        sa.Column("estimate", sa.JSON(), nullable=True),
        sa.Column("planned_through", sa.Integer(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("planning_done", sa.Boolean(), nullable=False),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["cadre_id"], ["cadre.id"], name=op.f("fk_campaign_cadre_id_cadre")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["message_template.id"],
            name=op.f("fk_campaign_template_id_message_template"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_campaign_dedup_key")),
    )
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_status"), ["status"], unique=False)

    op.create_table(
        "subscription",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscription_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "topic", name=op.f("pk_subscription")),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_topic"), ["topic"], unique=False)

    with op.batch_alter_table("outbound_sms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("subscriber_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("area_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("report_status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("network_code", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("body", existing_type=sa.TEXT(), nullable=True)
        batch_op.drop_index(batch_op.f("ix_outbound_sms_gateway_message_id"))
        batch_op.create_index(
            "ix_outbound_sms_batch", ["campaign_id", "language", "area_id", "id"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_outbound_sms_campaign_id"), ["campaign_id", "msisdn"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbound_sms_campaign_id_campaign"),
            "campaign",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )

    if op.get_bind().dialect.name == "postgresql":
        # Room on each page for a row's later versions: HOT updates (models/sms.py).
        op.execute("ALTER TABLE outbound_sms SET (fillfactor = 50)")

    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("opt_out_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("opt_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("area_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_subscriber_area_id"), ["area_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_subscriber_area_id_area"), "area", ["area_id"], ["id"]
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbound_sms RESET (fillfactor)")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_subscriber_area_id_area"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_subscriber_area_id"))
        batch_op.drop_column("area_id")
        batch_op.drop_column("opt_changed_at")
        batch_op.drop_column("opt_out_source")
        batch_op.drop_column("opted_out_at")

    with op.batch_alter_table("outbound_sms", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbound_sms_campaign_id_campaign"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_outbound_sms_campaign_id"), type_="unique")
        batch_op.drop_index("ix_outbound_sms_batch")
        batch_op.create_index(
            batch_op.f("ix_outbound_sms_gateway_message_id"), ["gateway_message_id"], unique=False
        )
        batch_op.alter_column("body", existing_type=sa.TEXT(), nullable=False)
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("network_code")
        batch_op.drop_column("report_status")
        batch_op.drop_column("not_before")
        batch_op.drop_column("area_id")
        batch_op.drop_column("language")
        batch_op.drop_column("subscriber_id")
        batch_op.drop_column("campaign_id")

    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_topic"))

    op.drop_table("subscription")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_status"))

    op.drop_table("campaign")
    op.drop_table("message_template")
    with op.batch_alter_table("inbound_sms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_sms_status"))
        batch_op.drop_index(batch_op.f("ix_inbound_sms_msisdn"))

    op.drop_table("inbound_sms")
