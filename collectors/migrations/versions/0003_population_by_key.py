"""populations keyed by what selects them (journey, from, to, where) instead of by SLA name:
SLAs differing only in threshold, objective or window share rows, and a preview builds rows
only for a population not yet stored. Derived data: the rows are rebuilt on the next refresh.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _create(key: str) -> None:
    op.create_table('sla_population',
    sa.Column(key, sa.String(), nullable=False),
    sa.Column('f_us', sa.BigInteger(), nullable=False),
    sa.Column('jkey', sa.String(), nullable=False),
    sa.Column('t_us', sa.BigInteger(), nullable=True),
    sa.Column('d_us', sa.BigInteger(), nullable=True),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.Column('settled_us', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint(key, 'f_us', 'jkey'),
    comment='one row per journey of each journey SLA population, clustered by `from` time',
    sqlite_with_rowid=False
    )
    op.create_index('ix_sla_population_key', 'sla_population', [key, 'jkey'], unique=False)
    op.create_index('ix_sla_population_wait', 'sla_population',
                    [key, 'd_us', 'f_us', 't_us', 'matched', 'settled_us'], unique=False)


def upgrade() -> None:
    op.drop_table('sla_population')
    _create('pkey')
    op.execute("DELETE FROM cursors WHERE name LIKE 'population:%'")


def downgrade() -> None:
    op.drop_table('sla_population')
    _create('sla')
    op.execute("DELETE FROM cursors WHERE name LIKE 'population:%'")
