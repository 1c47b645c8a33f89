"""gone letters: every deleted letter that went out leaves its id, for the click path

Only letters that were ever claimed for sending carry links (a preview's lead nowhere),
so planned letters, which re-planning deletes by the thousand, leave nothing.

The click endpoint keeps letters' campaigns and links in memory (tracking/directory.py);
a letter deleted later (its contact erased, its campaign removed) must stop redirecting,
so a trigger notes its id here, and every web process reads the new rows at most a
second later. Old rows are pruned once every process has read them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import mailer.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# PostgreSQL: one statement-level trigger, so a mass delete writes its ids in one insert.
_PG_FUNCTION = """
CREATE FUNCTION note_gone_letters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO gone_letters (letter_id, gone_at)
    SELECT id, clock_timestamp() FROM gone WHERE status <> 'planned';
    RETURN NULL;
END $$
"""
_PG_TRIGGER = """
CREATE TRIGGER letters_note_gone AFTER DELETE ON letters
REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION note_gone_letters()
"""
_SQLITE_TRIGGER = """
CREATE TRIGGER letters_note_gone AFTER DELETE ON letters WHEN OLD.status <> 'planned'
BEGIN
    INSERT INTO gone_letters (letter_id, gone_at)
    VALUES (OLD.id, strftime('%Y-%m-%d %H:%M:%f', 'now'));
END
"""


def upgrade() -> None:
    op.create_table(
        "gone_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("gone_at", mailer.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gone_letters")),
    )
    op.create_index("ix_gone_letters_gone_at", "gone_letters", ["gone_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS letters_note_gone"
        + (" ON letters" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS note_gone_letters()")
    op.drop_index("ix_gone_letters_gone_at", table_name="gone_letters")
    op.drop_table("gone_letters")
