"""digests: one row per manager and local working day a morning digest went out

Reminders due or overdue alone make a digest, so "had a digest today" can no longer be
read from the hot-click tasks it announced; the row claims the day before the letter goes
out (the unique key stops a second run), is deleted when the relay refuses, and carries
sent_at once the relay took it.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("claimed_at", mailer.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", mailer.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["managers.id"],
            name=op.f("fk_digests_manager_id_managers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
        sa.UniqueConstraint("manager_id", "day", name="uq_digests_manager_day"),
    )


def downgrade() -> None:
    op.drop_table("digests")
