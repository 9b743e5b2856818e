"""alerting: alert episodes, the notification outbox, silences, leases; burn-rate span counts
per result; consecutive collector errors per source

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('alertname', sa.String(), nullable=False),
    sa.Column('labels', sa.Text(), nullable=False),
    sa.Column('team', sa.String(), nullable=False),
    sa.Column('severity', sa.String(), nullable=False),
    sa.Column('sla', sa.String(), nullable=True),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('since_us', sa.BigInteger(), nullable=False),
    sa.Column('ended_us', sa.BigInteger(), nullable=True),
    sa.Column('evaluated_us', sa.BigInteger(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('silence_id', sa.BigInteger(), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'since_us', name='uq_alerts_key_since'),
    comment='one row per alert episode (from firing to resolved)'
    )
    op.create_index('ix_alerts_active', 'alerts', ['ended_us', 'key'], unique=False)
    op.create_index('ix_alerts_sla', 'alerts', ['sla', 'since_us'], unique=False)
    op.create_table('leases',
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('holder', sa.String(), nullable=False),
    sa.Column('expires_us', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name'),
    comment='one process at a time does the work named (e.g. dispatching notifications)'
    )
    op.create_table('notifications',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('target', sa.String(), nullable=False),
    sa.Column('team', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('at_us', sa.BigInteger(), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.Column('due_us', sa.BigInteger(), nullable=False),
    sa.Column('give_up_us', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_us', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    comment="the outbox: written before it is sent; `sent` commits after the target's 2xx"
    )
    op.create_index('ix_notifications_alert', 'notifications', ['alert_id', 'target'],
                    unique=False)
    op.create_index('ix_notifications_due', 'notifications', ['state', 'due_us'], unique=False)
    op.create_table('silences',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('matchers', sa.Text(), nullable=False),
    sa.Column('starts_us', sa.BigInteger(), nullable=False),
    sa.Column('ends_us', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('created_us', sa.BigInteger(), nullable=False),
    sa.Column('ended_by', sa.String(), nullable=True),
    sa.Column('ended_us', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_silences_ends', 'silences', ['ends_us'], unique=False)
    op.add_column('sla_results', sa.Column('spans', sa.Text(), nullable=True))
    op.add_column('source_status', sa.Column('consecutive_errors', sa.BigInteger(),
                                             server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('source_status') as batch_op:
        batch_op.drop_column('consecutive_errors')
    with op.batch_alter_table('sla_results') as batch_op:
        batch_op.drop_column('spans')
    op.drop_table('silences')
    op.drop_table('notifications')
    op.drop_table('leases')
    op.drop_table('alerts')
