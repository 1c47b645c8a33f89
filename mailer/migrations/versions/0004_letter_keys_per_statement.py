"""letters' keys checked per statement on PostgreSQL, not per row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 18:00:00.000000

PostgreSQL checks a foreign key with a query per inserted row (an after-row trigger that
runs a prepared SELECT ... FOR KEY SHARE through SPI). Planning a year inserts millions of
letters, and the two keys of a letter (to its contact; to its campaign and that campaign's
tag) were 42 of the 69 CPU-seconds PostgreSQL spent storing 3.9 million letters: more than
the heap, every index and the WAL together. Here the same guarantees are kept by triggers
that check a whole statement's rows at once (transition tables), and do what the keys did
on the other side:

- a statement adding letters locks the contacts and the campaigns they name FOR KEY SHARE,
  as the keys' checks did, and fails (foreign_key_violation) when one is missing; a letter
  whose contact, campaign or tag changes is checked the same way, row by row;
- deleting contacts or campaigns deletes their letters (ON DELETE CASCADE);
- changing a referenced contact's or campaign's id, or a campaign's tag, fails while
  letters refer to it (NO ACTION); so does TRUNCATE of contacts or campaigns that leaves
  letters behind.

A concurrent delete of a contact waits for the lock, then cascades to the letters once
they are committed (its cascade reads with a new snapshot), exactly as with the key.
SQLite keeps its foreign keys, which cost little there: its check is a B-tree probe in
the same process. The models still declare the keys (SQLite's schema, the ORM's joins);
`mailer.storage.schema.include_object` tells autogenerate that PostgreSQL keeps them by trigger.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CONTACT_KEY = "fk_letters_contact_id_contacts"
CAMPAIGN_KEY = "fk_letters_campaign_id_campaigns"

FUNCTIONS = [
    # Letters added by one statement: every contact and campaign (with its tag) they name
    # must exist, and is locked until commit so that it cannot be deleted under them. Two
    # passes over the added rows (a year's plan is one statement of millions), with room to
    # sort and hash their keys in memory instead of on disk.
    f"""
CREATE FUNCTION letters_check_added_keys() RETURNS trigger LANGUAGE plpgsql
SET work_mem = '256MB' AS $$
DECLARE
    wanted bigint;
    found bigint;
    campaign_keys bigint[];  -- (campaign id << 32) | tag id
BEGIN
    SELECT count(DISTINCT contact_id), array_agg(DISTINCT (campaign_id::bigint << 32) | tag_id)
        INTO wanted, campaign_keys FROM added;
    SELECT count(*) INTO found FROM (
        SELECT FROM contacts WHERE id IN (SELECT contact_id FROM added) FOR KEY SHARE
    ) AS locked;
    IF found <> wanted THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'a letter names a contact that does not exist',
            TABLE = 'letters', CONSTRAINT = '{CONTACT_KEY}';
    END IF;
    SELECT count(*) INTO found FROM (
        SELECT FROM campaigns WHERE ((id::bigint << 32) | tag_id) = ANY (campaign_keys)
        FOR KEY SHARE
    ) AS locked;
    IF found <> coalesce(cardinality(campaign_keys), 0) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'a letter names a campaign that does not exist or is not its tag''s',
            TABLE = 'letters', CONSTRAINT = '{CAMPAIGN_KEY}';
    END IF;
    RETURN NULL;
END $$
""",
    # One letter whose keys changed (nothing in the product does that): the same check.
    f"""
CREATE FUNCTION letters_check_changed_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM FROM contacts WHERE id = NEW.contact_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'a letter names a contact that does not exist',
            TABLE = 'letters', CONSTRAINT = '{CONTACT_KEY}';
    END IF;
    PERFORM FROM campaigns WHERE id = NEW.campaign_id AND tag_id = NEW.tag_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'a letter names a campaign that does not exist or is not its tag''s',
            TABLE = 'letters', CONSTRAINT = '{CAMPAIGN_KEY}';
    END IF;
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION contacts_delete_letters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM letters WHERE contact_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION campaigns_delete_letters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM letters WHERE campaign_id IN (SELECT id FROM gone);
    RETURN NULL;
END $$
""",
    f"""
CREATE FUNCTION contacts_keep_letters_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM letters WHERE contact_id = OLD.id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'letters still name contact ' || OLD.id,
            TABLE = 'letters', CONSTRAINT = '{CONTACT_KEY}';
    END IF;
    RETURN NULL;
END $$
""",
    f"""
CREATE FUNCTION campaigns_keep_letters_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM letters WHERE campaign_id = OLD.id AND tag_id = OLD.tag_id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'letters still name campaign ' || OLD.id,
            TABLE = 'letters', CONSTRAINT = '{CAMPAIGN_KEY}';
    END IF;
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION letters_outlive_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM letters) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'cannot truncate ' || TG_TABLE_NAME || ': letters refer to it';
    END IF;
    RETURN NULL;
END $$
""",
]

TRIGGERS = [
    "CREATE TRIGGER letters_check_added_keys AFTER INSERT ON letters"
    " REFERENCING NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION letters_check_added_keys()",
    "CREATE TRIGGER letters_check_changed_keys AFTER UPDATE OF contact_id, campaign_id, tag_id"
    " ON letters FOR EACH ROW WHEN (OLD.contact_id <> NEW.contact_id"
    " OR OLD.campaign_id <> NEW.campaign_id OR OLD.tag_id <> NEW.tag_id)"
    " EXECUTE FUNCTION letters_check_changed_keys()",
    "CREATE TRIGGER contacts_delete_letters AFTER DELETE ON contacts"
    " REFERENCING OLD TABLE AS gone FOR EACH STATEMENT"
    " EXECUTE FUNCTION contacts_delete_letters()",
    "CREATE TRIGGER campaigns_delete_letters AFTER DELETE ON campaigns"
    " REFERENCING OLD TABLE AS gone FOR EACH STATEMENT"
    " EXECUTE FUNCTION campaigns_delete_letters()",
    "CREATE TRIGGER contacts_keep_letters_keys AFTER UPDATE OF id ON contacts"
    " FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION contacts_keep_letters_keys()",
    "CREATE TRIGGER campaigns_keep_letters_keys AFTER UPDATE OF id, tag_id ON campaigns"
    " FOR EACH ROW WHEN (OLD.id <> NEW.id OR OLD.tag_id <> NEW.tag_id)"
    " EXECUTE FUNCTION campaigns_keep_letters_keys()",
    "CREATE TRIGGER contacts_letters_outlive_truncate AFTER TRUNCATE ON contacts"
    " FOR EACH STATEMENT EXECUTE FUNCTION letters_outlive_truncate()",
    "CREATE TRIGGER campaigns_letters_outlive_truncate AFTER TRUNCATE ON campaigns"
    " FOR EACH STATEMENT EXECUTE FUNCTION letters_outlive_truncate()",
]

TRIGGER_TABLES = {
    "letters_check_added_keys": "letters",
    "letters_check_changed_keys": "letters",
    "contacts_delete_letters": "contacts",
    "campaigns_delete_letters": "campaigns",
    "contacts_keep_letters_keys": "contacts",
    "campaigns_keep_letters_keys": "campaigns",
    "contacts_letters_outlive_truncate": "contacts",
    "campaigns_letters_outlive_truncate": "campaigns",
}
FUNCTION_NAMES = [
    "letters_check_added_keys",
    "letters_check_changed_keys",
    "contacts_delete_letters",
    "campaigns_delete_letters",
    "contacts_keep_letters_keys",
    "campaigns_keep_letters_keys",
    "letters_outlive_truncate",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps its foreign keys
    op.drop_constraint(CONTACT_KEY, "letters", type_="foreignkey")
    op.drop_constraint(CAMPAIGN_KEY, "letters", type_="foreignkey")
    for statement in FUNCTIONS + TRIGGERS:
        op.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger, table in TRIGGER_TABLES.items():
        op.execute(sa.text(f"DROP TRIGGER {trigger} ON {table}"))
    for function in FUNCTION_NAMES:
        op.execute(sa.text(f"DROP FUNCTION {function}()"))
    op.create_foreign_key(
        CONTACT_KEY, "letters", "contacts", ["contact_id"], ["id"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        CAMPAIGN_KEY,
        "letters",
        "campaigns",
        ["campaign_id", "tag_id"],
        ["id", "tag_id"],
        ondelete="CASCADE",
    )
