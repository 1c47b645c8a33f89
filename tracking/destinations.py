"""Checking where a tracked link may lead, when marketing saves it. Pure.

The click endpoint redirects only to a destination stored here, so a destination is
checked once, strictly: a letter must never carry an open redirect or a script URL.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import urlsplit

_CONTROL = re.compile(r"[\x00-\x20\x7f]")
MAX_LENGTH = 2000


class DestinationError(ValueError):
    """A destination that is refused; the message says why, in Russian."""


def check_destination(url: str, allowed_domains: Iterable[str] = ()) -> str:
    """The destination as stored, or DestinationError saying what is wrong with it."""
    if not url or not url.strip():
        raise DestinationError("адрес ссылки пуст")
    if len(url) > MAX_LENGTH:
        raise DestinationError(f"адрес ссылки длиннее {MAX_LENGTH} символов")
    if _CONTROL.search(url) or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        raise DestinationError("в адресе ссылки пробелы или управляющие символы")
    if "\\" in url:
        raise DestinationError("в адресе ссылки обратная косая черта (\\)")
    if url.startswith("//"):
        raise DestinationError("адрес без протокола (//host): укажите https://")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise DestinationError(f"разрешены только http и https, а не {parts.scheme or 'пусто'}:")
    if "@" in parts.netloc:
        raise DestinationError("в адресе есть имя пользователя (user@host): так подделывают сайт")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise DestinationError("в адресе ссылки нет имени сайта")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise DestinationError("в адресе ссылки неверный порт") from None
    allowed = [d.strip().lower().lstrip(".") for d in allowed_domains if d.strip()]
    if allowed and not any(host == d or host.endswith("." + d) for d in allowed):
        raise DestinationError(f"сайт {host} не в списке разрешённых: {', '.join(allowed)}")
    return url
