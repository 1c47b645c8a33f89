"""What every page of marketing's desk shares: the role gate and the letter kinds' names.

A blueprint of marketing's desk calls `marketing_blueprint`: its pages do not exist for a
manager (404, as another manager's contact), whatever URL they type.
"""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

KIND_TEXTS = {
    "industry_catalogue": "Отраслевой каталог",
    "mar8": "8 Марта",
    "feb23": "23 Февраля",
    "new_year_catalogue": "Новогодний каталог",
}


def _marketing_only() -> None:
    # The app's own gate ran first: a visitor who is not signed in went to the sign-in page.
    if not current_user.is_authenticated or not current_user.is_marketing:
        abort(404)


def marketing_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint whose every page is marketing's only."""
    bp = Blueprint(name, import_name)
    bp.before_request(_marketing_only)
    bp.context_processor(lambda: {"kind_texts": KIND_TEXTS})
    return bp
