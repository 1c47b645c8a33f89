"""Signed tokens for links in letters: one signer, one salt per purpose. Pure."""

from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

UNSUBSCRIBE = "mailer.unsubscribe"


class BadTokenError(ValueError):
    """A token that was not made by us, or not for this purpose."""


@lru_cache(maxsize=16)
def _serializer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=purpose)


def sign(secret: str, purpose: str, payload: object) -> str:
    """A URL-safe token carrying `payload`, valid only for `purpose`."""
    return _serializer(secret, purpose).dumps(payload)


def unsign(secret: str, purpose: str, token: str) -> object:
    """The payload of a token made by `sign` for the same purpose."""
    try:
        return _serializer(secret, purpose).loads(token)
    except BadSignature:
        raise BadTokenError("bad or foreign token") from None


def unsubscribe_token(secret: str, contact_id: int) -> str:
    return sign(secret, UNSUBSCRIBE, contact_id)


def list_unsubscribe_headers(
    secret: str, base_url: str, mailto: str, contact_id: int
) -> list[tuple[str, str]]:
    """RFC 2369 + RFC 8058 headers: a one-click HTTPS link and a mailto fallback."""
    token = unsubscribe_token(secret, contact_id)
    url = f"{base_url.rstrip('/')}/u/{token}"
    # A token is URL-safe base64 and dots: only the space needs quoting.
    mail = f"mailto:{mailto}?subject=unsubscribe%20{token}"
    return [
        ("List-Unsubscribe", f"<{url}>, <{mail}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
