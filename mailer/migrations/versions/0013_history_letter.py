"""history: a sent letter's entry names its letter, so the timeline links to it

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain column (no key): SQLite adds it in place, and a letter deleted later leaves
    # an id the card no longer links.
    op.add_column("history", sa.Column("letter_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("history") as batch_op:
        batch_op.drop_column("letter_id")
