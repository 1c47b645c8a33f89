"""letter days: the calendar's letters per (year, owner, campaign, owner's local day)

The calendar page counts a year's letters per owner's local day; at 1,000,000 contacts
that read 3.9 million letters and joined each to its contact and manager for the time
zone (13 s). This table holds those counts, and PostgreSQL keeps them exact with triggers
in the same transaction as the change, whoever writes letters (planning's COPY,
re-planning, cancelling on unsubscribe, delivery, backlog re-pacing, raw SQL):

- letters inserted or deleted: one statement-level trigger each, counting the statement's
  rows at once (transition tables), so planning's COPY adds one grouped upsert;
- a letter's year, campaign, contact, time or cancelled-ness changed: a row trigger whose
  WHEN skips every other update (delivery's status changes cost nothing);
- a contact's owner changed: its letters move from one owner's days to the other's;
- contacts deleted: their letters are uncounted before 0004's trigger deletes them (the
  trigger's name sorts first), since once the contacts are gone the owner is unknown;
- a manager's time zone changed: that owner's days are counted again; letters truncated:
  the counts too.

Cancelled letters are not counted (they are not in the plan). Rows that fall to zero stay
(the key space is small) and readers skip them. SQLite has no time zones for a trigger to
convert with: there the table stays empty and the calendar counts letters directly.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Adds sign × the letters of `rows` (with year, contact_id, campaign_id, planned_at, status)
# to their owners' days; `owner` is the join that names each letter's owner.
_UPSERT = """
    INSERT INTO letter_days AS s (year, owner_id, day, campaign_id, letters)
    SELECT l.year, o.owner_id, timezone(m.timezone, l.planned_at)::date, l.campaign_id,
           {sign} count(*)
    FROM {rows} {owner} JOIN managers m ON m.id = o.owner_id
    WHERE l.status <> 'cancelled'
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (year, owner_id, day, campaign_id)
    DO UPDATE SET letters = s.letters + excluded.letters;
"""
_BY_CONTACT = "JOIN contacts o ON o.id = l.contact_id"


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}\n    RETURN NULL;\nEND $$"
    )


_OLD_ROW = "(SELECT OLD.year, OLD.contact_id, OLD.campaign_id, OLD.planned_at, OLD.status)"
_NEW_ROW = "(SELECT NEW.year, NEW.contact_id, NEW.campaign_id, NEW.planned_at, NEW.status)"
_ROW_COLUMNS = "(year, contact_id, campaign_id, planned_at, status)"
_OWNER = "CROSS JOIN (SELECT {owner}::integer AS owner_id) o"

FUNCTIONS = [
    _function(
        "letter_days_add_new",
        _UPSERT.format(sign="", rows="added l", owner=_BY_CONTACT),
    ),
    _function(
        "letter_days_remove_old",
        _UPSERT.format(sign="-", rows="gone l", owner=_BY_CONTACT),
    ),
    _function(
        "letter_days_move_letter",
        _UPSERT.format(sign="-", rows=f"{_OLD_ROW} AS l {_ROW_COLUMNS}", owner=_BY_CONTACT)
        + _UPSERT.format(sign="", rows=f"{_NEW_ROW} AS l {_ROW_COLUMNS}", owner=_BY_CONTACT),
    ),
    _function(
        "letter_days_move_contact",
        _UPSERT.format(
            sign="-", rows="letters l", owner=_OWNER.format(owner="OLD.owner_id")
        ).replace("WHERE l.status", "WHERE l.contact_id = OLD.id AND l.status")
        + _UPSERT.format(
            sign="", rows="letters l", owner=_OWNER.format(owner="NEW.owner_id")
        ).replace("WHERE l.status", "WHERE l.contact_id = NEW.id AND l.status"),
    ),
    _function(
        "letter_days_remove_contacts",
        _UPSERT.format(sign="-", rows="letters l", owner="JOIN gone o ON o.id = l.contact_id"),
    ),
    _function(
        "letter_days_recount_owner",
        "    DELETE FROM letter_days WHERE owner_id = NEW.id;\n"
        + _UPSERT.format(sign="", rows="letters l", owner=_BY_CONTACT).replace(
            "WHERE l.status", "WHERE o.owner_id = NEW.id AND l.status"
        ),
    ),
    _function("letter_days_truncate", "    TRUNCATE letter_days;"),
]
_CHANGED = " OR ".join(
    [f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in ("year", "campaign_id", "contact_id")]
    + [
        "OLD.planned_at IS DISTINCT FROM NEW.planned_at",
        "(OLD.status = 'cancelled') IS DISTINCT FROM (NEW.status = 'cancelled')",
    ]
)
TRIGGERS = {
    "letters_count_added_days": "AFTER INSERT ON letters REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION letter_days_add_new()",
    "letters_count_gone_days": "AFTER DELETE ON letters REFERENCING OLD TABLE AS gone"
    " FOR EACH STATEMENT EXECUTE FUNCTION letter_days_remove_old()",
    "letters_count_moved_days": "AFTER UPDATE OF year, campaign_id, contact_id, planned_at,"
    f" status ON letters FOR EACH ROW WHEN ({_CHANGED})"
    " EXECUTE FUNCTION letter_days_move_letter()",
    "letters_count_truncated_days": "AFTER TRUNCATE ON letters"
    " FOR EACH STATEMENT EXECUTE FUNCTION letter_days_truncate()",
    "contacts_count_moved_days": "AFTER UPDATE OF owner_id ON contacts FOR EACH ROW"
    " WHEN (OLD.owner_id <> NEW.owner_id) EXECUTE FUNCTION letter_days_move_contact()",
    # Sorts before 0004's contacts_delete_letters: same event, fired in name order.
    "contacts_count_gone_days": "AFTER DELETE ON contacts REFERENCING OLD TABLE AS gone"
    " FOR EACH STATEMENT EXECUTE FUNCTION letter_days_remove_contacts()",
    "managers_recount_days": "AFTER UPDATE OF timezone ON managers FOR EACH ROW"
    " WHEN (OLD.timezone <> NEW.timezone) EXECUTE FUNCTION letter_days_recount_owner()",
}
_TABLE_OF = {name: name.split("_", 1)[0] for name in TRIGGERS}
_FILL = _UPSERT.format(sign="", rows="letters l", owner=_BY_CONTACT)


def upgrade() -> None:
    op.create_table(
        "letter_days",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        # In (owner, day) order: the weekly load groups owner-days straight off the index.
        sa.PrimaryKeyConstraint(
            "year", "owner_id", "day", "campaign_id", name=op.f("pk_letter_days")
        ),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    for function in FUNCTIONS:
        op.execute(function)
    for name, definition in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")
    op.execute(_FILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in _TABLE_OF.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function.split()[2]}")
    op.drop_table("letter_days")
