"""cadres, surveys, households

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cadre',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('msisdn', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('role', sa.Enum('cadre', 'supervisor', name='cadrerole', native_enum=False, length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pin_hash', sa.String(length=128), nullable=True),
    sa.Column('pin_failures', sa.Integer(), nullable=False),
    sa.Column('pin_locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pin_failure_key', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadre')),
    sa.UniqueConstraint('msisdn', name=op.f('uq_cadre_msisdn'))
    )
    op.create_table('survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey')),
    sa.UniqueConstraint('form_id', 'version', name=op.f('uq_survey_form_id'))
    )
    op.create_table('survey_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_round')),
    sa.UniqueConstraint('name', name=op.f('uq_survey_round_name'))
    )
    op.create_table('cadre_village',
    sa.Column('cadre_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_cadre_village_area_id_area'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadre.id'], name=op.f('fk_cadre_village_cadre_id_cadre'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cadre_id', 'area_id', name=op.f('pk_cadre_village'))
    )
    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('head_name', sa.String(length=80), nullable=False),
    sa.Column('head_msisdn', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['area.id'], name=op.f('fk_household_area_id_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household'))
    )
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_head_msisdn'), ['head_msisdn'], unique=False)

    op.create_table('household_survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=True),
    sa.Column('draft_key', sa.String(length=40), nullable=False),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_latest', sa.Boolean(), nullable=False),
    sa.Column('mpi_score', sa.String(length=16), nullable=False),
    sa.Column('mpi_score_value', sa.Float(), nullable=False),
    sa.Column('mpi_poor', sa.Boolean(), nullable=False),
    sa.Column('mpi_vulnerable', sa.Boolean(), nullable=False),
    sa.Column('mpi_severe', sa.Boolean(), nullable=False),
    sa.Column('dep_years_of_schooling', sa.Boolean(), nullable=False),
    sa.Column('dep_school_attendance', sa.Boolean(), nullable=False),
    sa.Column('dep_child_mortality', sa.Boolean(), nullable=False),
    sa.Column('dep_nutrition', sa.Boolean(), nullable=False),
    sa.Column('dep_electricity', sa.Boolean(), nullable=False),
    sa.Column('dep_sanitation', sa.Boolean(), nullable=False),
    sa.Column('dep_drinking_water', sa.Boolean(), nullable=False),
    sa.Column('dep_housing', sa.Boolean(), nullable=False),
    sa.Column('dep_cooking_fuel', sa.Boolean(), nullable=False),
    sa.Column('dep_assets', sa.Boolean(), nullable=False),
    sa.Column('food_ok', sa.Boolean(), nullable=False),
    sa.Column('clothing_ok', sa.Boolean(), nullable=False),
    sa.Column('education_ok', sa.Boolean(), nullable=False),
    sa.Column('medical_ok', sa.Boolean(), nullable=False),
    sa.Column('housing_ok', sa.Boolean(), nullable=False),
    sa.Column('water_ok', sa.Boolean(), nullable=False),
    sa.Column('water_level', sa.String(length=16), nullable=False),
    sa.Column('sanitation_level', sa.String(length=16), nullable=False),
    sa.Column('fies_score', sa.Integer(), nullable=False),
    sa.Column('food_insecurity', sa.String(length=16), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('children_out_of_school', sa.Integer(), nullable=False),
    sa.Column('members_able_to_work', sa.Integer(), nullable=False),
    sa.Column('members_with_disability', sa.Integer(), nullable=False),
    sa.Column('members_chronically_ill', sa.Integer(), nullable=False),
    sa.Column('members_aged_70_plus', sa.Integer(), nullable=False),
    sa.Column('hardship', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadre.id'], name=op.f('fk_household_survey_cadre_id_cadre')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_household_survey_household_id_household')),
    sa.ForeignKeyConstraint(['round_id'], ['survey_round.id'], name=op.f('fk_household_survey_round_id_survey_round')),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_household_survey_survey_id_survey')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_survey')),
    sa.UniqueConstraint('draft_key', name=op.f('uq_household_survey_draft_key'))
    )
    with op.batch_alter_table('household_survey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_survey_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_household_survey_latest', ['household_id', 'is_latest'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_survey_mpi_poor'), ['mpi_poor'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_survey_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_household_survey_water_level'), ['water_level'], unique=False)

    op.create_table('survey_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('position', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('question_no', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadre.id'], name=op.f('fk_survey_draft_cadre_id_cadre'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_survey_draft_household_id_household')),
    sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_draft_survey_id_survey')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_draft')),
    sa.UniqueConstraint('key', name=op.f('uq_survey_draft_key'))
    )
    with op.batch_alter_table('survey_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_draft_cadre_id'), ['cadre_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_draft_updated_at'), ['updated_at'], unique=False)

    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eligibility', sa.JSON(), nullable=True))

    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pin_hash', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('pin_failures', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('pin_locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pin_failure_key', sa.String(length=40), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_column('pin_failure_key')
        batch_op.drop_column('pin_locked_until')
        batch_op.drop_column('pin_failures')
        batch_op.drop_column('pin_hash')

    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_column('eligibility')

    with op.batch_alter_table('survey_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_draft_updated_at'))
        batch_op.drop_index(batch_op.f('ix_survey_draft_cadre_id'))

    op.drop_table('survey_draft')
    with op.batch_alter_table('household_survey', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_survey_water_level'))
        batch_op.drop_index(batch_op.f('ix_household_survey_round_id'))
        batch_op.drop_index(batch_op.f('ix_household_survey_mpi_poor'))
        batch_op.drop_index('ix_household_survey_latest')
        batch_op.drop_index(batch_op.f('ix_household_survey_household_id'))

    op.drop_table('household_survey')
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_head_msisdn'))
        batch_op.drop_index(batch_op.f('ix_household_area_id'))

    op.drop_table('household')
    op.drop_table('cadre_village')
    op.drop_table('survey_round')
    op.drop_table('survey')
    op.drop_table('cadre')
