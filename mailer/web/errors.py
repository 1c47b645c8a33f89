"""Our own error pages, in Russian: never a stack trace, never Werkzeug's English."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("mailer.web")

_TEXTS = {
    400: ("Запрос не понят", "В запросе что-то не так. Вернитесь назад и попробуйте ещё раз."),
    404: ("Страница не найдена", "Такой страницы нет, или у вас нет к ней доступа."),
    405: ("Так нельзя", "Эта страница не принимает такой запрос."),
    429: ("Слишком часто", "Подождите немного и попробуйте снова."),
    500: ("Что-то сломалось", "Мы уже знаем об ошибке. Попробуйте ещё раз через минуту."),
}


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)


def _page(status: int, title: str, text: str) -> tuple[str, int]:
    template = "pages/errors/error.html"
    if request.blueprint == "tracking":  # a recipient's page: the public layout
        template = "pages/public/not_found.html" if status == 404 else template
    return render_template(template, status=status, title=title, text=text), status


def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
    status = exc.code or 500
    if status < 400:
        return exc
    title, text = _TEXTS.get(status, (f"Ошибка {status}", "Запрос не выполнен."))
    return _page(status, title, text)


def _csrf_error(_exc: CSRFError) -> tuple[str, int]:
    return _page(
        400,
        "Форма устарела",
        "Страница была открыта слишком давно или из другого окна. Обновите её и повторите.",
    )


# When even the page cannot be drawn (the database is down): a page with nothing to load.
BARE_500 = (
    '<!doctype html><html lang="ru"><meta charset="utf-8"><title>Ошибка</title>'
    "<h1>Что-то сломалось</h1><p>Попробуйте ещё раз через минуту.</p></html>"
)


def _server_error(exc: Exception) -> tuple[str, int]:
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    try:
        return _page(500, *_TEXTS[500])
    except Exception:  # the error page must not fail in its turn
        log.exception("the 500 page failed too")
        return BARE_500, 500
