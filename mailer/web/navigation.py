"""The menu by role: each entry names its endpoint and who sees it.

A page appears in the menu once its endpoint exists, so the desks' pages can land one
by one; marketing's pages add their entries here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_login import current_user

from mailer.users.models import Role

BOTH = frozenset(Role)
MARKETING = frozenset({Role.MARKETING})


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: frozenset[Role]


NAV: list[NavItem] = [
    NavItem("hot.index", "Горячие клики", BOTH),
    NavItem("contacts.index", "Контакты", BOTH),
    NavItem("contacts.abandoned", "Забытые", BOTH),
    NavItem("book.check", "Проверить", BOTH),
    NavItem("book.index", "Менеджеры", MARKETING),
    NavItem("campaigns.index", "Кампании", MARKETING),
    NavItem("preview.index", "Предпросмотр", MARKETING),
    NavItem("calendar.index", "Календарь", MARKETING),
    NavItem("outbox.index", "Исходящие", MARKETING),
    NavItem("imports.upload", "Импорт", MARKETING),
    NavItem("funnel.index", "Воронка", MARKETING),
]


def menu() -> list[dict[str, object]]:
    """The entries the signed-in user may open, marking the current one."""
    if not current_user.is_authenticated:
        return []
    here = request.endpoint or ""
    return [
        {
            "url": url_for(item.endpoint),
            "label": item.label,
            "current": here == item.endpoint,
        }
        for item in NAV
        if current_user.role in item.roles and item.endpoint in current_app.view_functions
    ]
