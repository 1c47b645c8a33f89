"""The columns of a contact file: one list for the importer, the exporter and the demo file.

Each field has the header an export writes, then the other spellings CRMs use; the importer
reads all of them (compared folded), so an edited export always imports back.
"""

from __future__ import annotations

from mailer.contacts.folding import fold

# Field → (the header exports write, then other spellings CRMs use), in an export's order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "last_name": ("Фамилия", "last name", "lastname", "last_name", "surname", "family name"),
    "first_name": ("Имя", "first name", "firstname", "first_name", "given name", "name"),
    "middle_name": ("Отчество", "middle name", "middlename", "middle_name", "patronymic"),
    "company": (
        "Компания",
        "организация",
        "название компании",
        "company",
        "company name",
        "organization",
        "organisation",
    ),
    "position": ("Должность", "position", "job title", "title"),
    "email": (
        "Email",
        "e-mail",
        "e mail",
        "эл. почта",
        "электронная почта",
        "почта",
        "mail",
    ),
    # Work, mobile and private e-mails and phones: column_plan.CRM_HEADERS.
    "phone": ("Телефон", "phone", "tel"),
    "tags": ("Теги", "тэги", "метки", "tags", "labels"),
    "owner": ("Ответственный", "менеджер", "owner", "manager", "responsible"),
    "consent": ("Согласие на рассылку", "согласие", "consent", "marketing consent"),
}

# The headers an export writes, in order.
EXPORT_HEADERS: list[str] = [names[0] for names in COLUMNS.values()]

# Every spelling, folded → the field it means.
HEADER_FIELDS: dict[str, str] = {
    fold(name): field_ for field_, names in COLUMNS.items() for name in names
}

# The column a reject file adds; ignored on import, so a fixed reject file imports again.
REASON_HEADER = "Причина отказа"
IGNORED_HEADERS = frozenset({fold(REASON_HEADER), "reason"})
