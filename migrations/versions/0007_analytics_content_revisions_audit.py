"""area statistics, organisations, article revisions, audit log, household search indexes

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("name", name=op.f("uq_organisation_name")),
    )
    op.create_table(
        "area_statistic",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "level",
            sa.Enum(
                "province", "county", "village", name="arealevel", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("poor_households", sa.Integer(), nullable=False),
        sa.Column("poor_people", sa.Integer(), nullable=False),
        sa.Column("poor_score18", sa.Integer(), nullable=False),
        sa.Column("vulnerable_households", sa.Integer(), nullable=False),
        sa.Column("vulnerable_people", sa.Integer(), nullable=False),
        sa.Column("severe_households", sa.Integer(), nullable=False),
        sa.Column("severe_people", sa.Integer(), nullable=False),
        sa.Column("left_poverty", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["area.id"],
            name=op.f("fk_area_statistic_area_id_area"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_round.id"],
            name=op.f("fk_area_statistic_round_id_survey_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "area_id", name=op.f("pk_area_statistic")),
    )
    with op.batch_alter_table("area_statistic", schema=None) as batch_op:
        batch_op.create_index("ix_area_statistic_parent", ["round_id", "parent_id"], unique=False)

    op.create_table(
        "article_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
            name=op.f("fk_article_revision_article_id_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_user.id"],
            name=op.f("fk_article_revision_user_id_console_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_revision")),
        sa.UniqueConstraint("article_id", "number", name=op.f("uq_article_revision_article_id")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_user.id"],
            name=op.f("fk_audit_event_user_id_console_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_audit_event_subject", ["subject_type", "subject_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_event_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_article_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_article_organisation_id_organisation"),
            "organisation",
            ["organisation_id"],
            ["id"],
        )

    with op.batch_alter_table("console_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_console_user_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_console_user_organisation_id_organisation"),
            "organisation",
            ["organisation_id"],
            ["id"],
        )

    with op.batch_alter_table("household_survey", schema=None) as batch_op:
        batch_op.create_index(
            "ix_household_survey_latest_completed",
            ["completed_at"],
            unique=False,
            postgresql_where=sa.text("is_latest"),
            sqlite_where=sa.text("is_latest"),
        )

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_job_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_job_organisation_id_organisation"),
            "organisation",
            ["organisation_id"],
            ["id"],
        )

    if op.get_bind().dialect.name == "postgresql":
        # The console finds households by any part of the head's name; a trigram
        # index serves ILIKE '%...%' over millions of rows (pg_trgm is a trusted
        # extension: the database's owner may create it).
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_household_head_name_trgm ON household "
            "USING gin (lower(head_name) gin_trgm_ops)"
        )


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_job_organisation_id_organisation"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_job_organisation_id"))
        batch_op.drop_column("organisation_id")
    op.execute("DROP INDEX IF EXISTS ix_household_head_name_trgm")
    with op.batch_alter_table("household_survey", schema=None) as batch_op:
        batch_op.drop_index("ix_household_survey_latest_completed")
    with op.batch_alter_table("console_user", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_console_user_organisation_id_organisation"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_console_user_organisation_id"))
        batch_op.drop_column("organisation_id")

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_article_organisation_id_organisation"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_article_organisation_id"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("organisation_id")

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_user_id"))
        batch_op.drop_index("ix_audit_event_subject")
        batch_op.drop_index(batch_op.f("ix_audit_event_created_at"))

    op.drop_table("audit_event")
    op.drop_table("article_revision")
    with op.batch_alter_table("area_statistic", schema=None) as batch_op:
        batch_op.drop_index("ix_area_statistic_parent")

    op.drop_table("area_statistic")
    op.drop_table("organisation")
