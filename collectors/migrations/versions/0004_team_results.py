"""the team roll-up of each evaluation (team_results), so the scorecards read it instead of
re-judging the stored SLA results

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('team_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
              nullable=False),
    sa.Column('team', sa.String(), nullable=False),
    sa.Column('evaluated_at_us', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('slas_ok', sa.BigInteger(), nullable=False),
    sa.Column('slas_total', sa.BigInteger(), nullable=False),
    sa.Column('worst_sla', sa.String(), nullable=True),
    sa.Column('budget_remaining', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('team', 'evaluated_at_us', name='uq_team_results_team_at'),
    comment="the engine's team roll-up of each evaluation (what the scorecards show)"
    )
    op.create_index('ix_team_results_at', 'team_results', ['evaluated_at_us'], unique=False)


def downgrade() -> None:
    op.drop_table('team_results')
