"""letters: when this attempt's SMTP transaction may have begun; the time first planned

`began_at` is set (a few letters at a time) just before a letter's MAIL FROM and cleared
by each new claim: a dead worker's letters without it never reached the relay and come
back unmarked. `first_planned_at` keeps the planned time a backlog re-pacing moved.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as batch_op:
        batch_op.add_column(sa.Column("began_at", mailer.db.UTCDateTime(timezone=True)))
        batch_op.add_column(sa.Column("first_planned_at", mailer.db.UTCDateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("letters") as batch_op:
        batch_op.drop_column("first_planned_at")
        batch_op.drop_column("began_at")
