"""service: evaluation runs (duration) and stalled journeys per stage at each scheduled
evaluation, for `baton serve --http` /metrics

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evaluation_runs',
    sa.Column('evaluated_at_us', sa.BigInteger(), nullable=False),
    sa.Column('started_us', sa.BigInteger(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('slas', sa.Integer(), nullable=False),
    sa.Column('process', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('evaluated_at_us'),
    comment='one row per scheduled evaluation of `baton serve` (what /metrics reports)'
    )
    op.create_table('stall_counts',
    sa.Column('evaluated_at_us', sa.BigInteger(), nullable=False),
    sa.Column('journey', sa.String(), nullable=False),
    sa.Column('stage', sa.String(), nullable=False),
    sa.Column('owner', sa.String(), nullable=False),
    sa.Column('stalled', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('evaluated_at_us', 'journey', 'stage'),
    comment='journeys stalled per stage at each scheduled evaluation (the evaluator\'s count)'
    )


def downgrade() -> None:
    op.drop_table('stall_counts')
    op.drop_table('evaluation_runs')
