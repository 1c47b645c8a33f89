"""CRM imports: several e-mails and phones per contact, the CRM's id, the salutation

A contact's other e-mails and phones go to `contact_channels` (the main ones stay on the
contact), indexed by kind and value for the owner check. A contact keeps the CRM it came
from and its id there, unique per CRM, so a later export updates the same person; and
Bitrix24's salutation (г-н / г-жа), which tells the greeting the gender.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "email",
                "phone",
                name="channelkind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_channels_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_channels")),
        sa.UniqueConstraint("contact_id", "kind", "value", name="uq_contact_channels_value"),
    )
    with op.batch_alter_table("contact_channels") as batch_op:
        batch_op.create_index("ix_contact_channels_value_kind", ["value", "kind"], unique=False)
    # Plain ALTER TABLE ADD COLUMN and a unique index: SQLite's batch mode would copy and
    # drop the contacts table, and the drop would cascade to their letters and history.
    op.add_column(
        "contacts", sa.Column("salutation", sa.String(length=8), nullable=False, server_default="")
    )
    op.add_column(
        "contacts",
        sa.Column("source_system", sa.String(length=16), nullable=False, server_default=""),
    )
    op.add_column(
        "contacts",
        sa.Column("source_id", sa.String(length=64), nullable=True, server_default=sa.null()),
    )
    op.create_index("ix_contacts_source", "contacts", ["source_system", "source_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_contacts_source", table_name="contacts")
    for column in ("source_id", "source_system", "salutation"):
        op.drop_column("contacts", column)  # native on SQLite 3.35+: no copy, no cascade
    with op.batch_alter_table("contact_channels") as batch_op:
        batch_op.drop_index("ix_contact_channels_value_kind")
    op.drop_table("contact_channels")
