"""contacts: company keys without legal forms; names without invisible characters

Issue 12: the owner check compares companies by a key that ignores legal forms (ООО, ПАО,
LLC…), quotes of every kind, hyphens and spaces (`mailer/contacts/company.py`); the keys
of the contacts already in the book are recomputed here, so `ООО «Вектор»` stored before
this revision is found by `Вектор`. Issue 11 strips invisible and bidi characters from
names on the way in; the names stored before that lose them here too (contacts' names,
companies and positions, managers' names), cleaned as `clean_fields` and `add_manager`
clean new ones.

The keys are computed by the code's own functions, as of this revision: a later change to
the key needs its own migration to recompute them again. The downgrade restores the old
keys (case-folded, ё as е, no quotes); the stripped characters are not put back.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from mailer.contacts.company import company_display, company_key_pair, split_company
from mailer.contacts.folding import strip_invisible

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BATCH = 2000

contacts = sa.table(
    "contacts",
    sa.column("id", sa.Integer),
    sa.column("first_name", sa.String),
    sa.column("middle_name", sa.String),
    sa.column("last_name", sa.String),
    sa.column("company_name", sa.String),
    sa.column("company_alias", sa.String),
    sa.column("company_key", sa.String),
    sa.column("company_alias_key", sa.String),
    sa.column("position", sa.String),
)
managers = sa.table("managers", sa.column("id", sa.Integer), sa.column("name", sa.String))


def _batches(connection: sa.Connection, table: sa.TableClause) -> Iterator[Sequence[Any]]:
    """The table's rows by id, a batch at a time, so memory stays flat on a big book."""
    last = 0
    while rows := connection.execute(
        sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(_BATCH)
    ).all():
        yield rows
        last = rows[-1].id


def _rewrite(table: sa.TableClause, clean: Callable[[Any], dict[str, object]]) -> None:
    """Update every row whose cleaned values differ from what is stored."""
    connection = op.get_bind()
    for rows in _batches(connection, table):
        changed = []
        for row in rows:
            values = clean(row)
            if any(getattr(row, k) != v for k, v in values.items()):
                changed.append({"row_id": row.id, **{f"v_{k}": v for k, v in values.items()}})
        if changed:
            columns = list(changed[0])[1:]
            stmt = (
                table.update()
                .where(table.c.id == sa.bindparam("row_id"))
                .values({c[2:]: sa.bindparam(c) for c in columns})
            )
            connection.execute(stmt, changed)


def _clean_contact(row: Any) -> dict[str, object]:
    company = strip_invisible(company_display(row.company_name, row.company_alias))
    name, alias = split_company(company)
    key, alias_key = company_key_pair(company)
    return {
        "first_name": strip_invisible(row.first_name).strip(),
        "middle_name": strip_invisible(row.middle_name).strip(),
        "last_name": strip_invisible(row.last_name).strip(),
        "company_name": name,
        "company_alias": alias,
        "company_key": key,
        "company_alias_key": alias_key,
        "position": " ".join(strip_invisible(row.position).split()),
    }


def _clean_manager(row: Any) -> dict[str, object]:
    return {"name": " ".join(strip_invisible(row.name).split())}


_OLD_QUOTES = str.maketrans("", "", "«»\"'“”„`")


def _old_fold(text: str) -> str:
    """The key before this revision: case-folded, ё as е, no quotes, spaces collapsed."""
    return " ".join(text.translate(_OLD_QUOTES).casefold().replace("ё", "е").split())


def _old_keys(row: Any) -> dict[str, object]:
    return {
        "company_key": _old_fold(row.company_name),
        "company_alias_key": _old_fold(row.company_alias),
    }


def upgrade() -> None:
    _rewrite(contacts, _clean_contact)
    _rewrite(managers, _clean_manager)


def downgrade() -> None:
    _rewrite(contacts, _old_keys)
