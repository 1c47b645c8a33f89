"""leaner letters: fewer per-row checks and index entries when a year is planned

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 15:40:00.000000

Planning inserts millions of letters at once, and every foreign key is a trigger run per
row and every index an entry per row. The tag of a letter is its campaign's tag, so:

- one composite foreign key (campaign_id, tag_id) → campaigns (id, tag_id) replaces the
  two to campaigns and to tags: it also guarantees the letter's tag is its campaign's,
  which the two separate keys did not;
- with that, and one campaign per tag (campaigns.tag_id is unique), the unique
  (contact_id, campaign_id, year) already implies (contact_id, tag_id, year), whose
  index is dropped;
- (campaign_id, year) is queried by nothing;
- claim_token is set only while a letter is being sent: its index holds only those rows;
- the claim's index becomes (due_at, id) of claimable letters only, with no string to
  compare per entry, and letters in flight get their own small index for stale claims.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CLAIMED = sa.text("claim_token IS NOT NULL")
CLAIMABLE = sa.text("status IN ('planned', 'deferred')")
IN_FLIGHT = sa.text("status = 'sending'")


def upgrade() -> None:
    # An index, not a constraint: on SQLite a new constraint rebuilds the table, and
    # dropping the old campaigns table would cascade to every letter.
    op.create_index("uq_campaigns_id_tag_id", "campaigns", ["id", "tag_id"], unique=True)
    with op.batch_alter_table("letters") as batch_op:
        batch_op.drop_constraint("fk_letters_tag_id_tags", type_="foreignkey")
        batch_op.drop_constraint("fk_letters_campaign_id_campaigns", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_letters_campaign_id_campaigns",
            "campaigns",
            ["campaign_id", "tag_id"],
            ["id", "tag_id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint("uq_letters_contact_tag_year", type_="unique")
        batch_op.drop_index("ix_letters_campaign_year")
        batch_op.drop_index("ix_letters_claim_token")
        batch_op.create_index(
            "ix_letters_claim_token",
            ["claim_token"],
            postgresql_where=CLAIMED,
            sqlite_where=CLAIMED,
        )
        batch_op.drop_index("ix_letters_status_due")
        batch_op.create_index(
            "ix_letters_due",
            ["due_at", "id"],
            postgresql_where=CLAIMABLE,
            sqlite_where=CLAIMABLE,
        )
        batch_op.create_index(
            "ix_letters_in_flight",
            ["claimed_at"],
            postgresql_where=IN_FLIGHT,
            sqlite_where=IN_FLIGHT,
        )


def downgrade() -> None:
    with op.batch_alter_table("letters") as batch_op:
        batch_op.drop_index("ix_letters_in_flight")
        batch_op.drop_index("ix_letters_due")
        batch_op.create_index("ix_letters_status_due", ["status", "due_at"])
        batch_op.drop_index("ix_letters_claim_token")
        batch_op.create_index("ix_letters_claim_token", ["claim_token"])
        batch_op.create_index("ix_letters_campaign_year", ["campaign_id", "year"])
        batch_op.create_unique_constraint(
            "uq_letters_contact_tag_year", ["contact_id", "tag_id", "year"]
        )
        batch_op.drop_constraint("fk_letters_campaign_id_campaigns", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_letters_campaign_id_campaigns",
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            "fk_letters_tag_id_tags", "tags", ["tag_id"], ["id"], ondelete="CASCADE"
        )
    op.drop_index("uq_campaigns_id_tag_id", "campaigns")
