"""Short signed tokens for the links in letters: opaque ids, one salt per purpose. Pure.

A token is `<payload>.<mac>`: the payload is the ids as unsigned LEB128 varints in
unpadded URL-safe base64, the mac is HMAC-SHA256 truncated to 96 bits (16 characters),
made by itsdangerous with a key derived per purpose, so a click token never passes for an
unsubscribe token. For a letter id near 10^8 and a link id near 10^5 that is 27
characters, all from `A-Z a-z 0-9 - _ .`, so a token sits in a URL path as it is.

Keys come from configuration newest first: the first signs, any listed one verifies, and a
key dropped from the list stops verifying at once. The token carries no destination and
no address: the view looks the link up by id, never trusting the request for where to go.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from functools import lru_cache

from itsdangerous import BadSignature, Signer
from itsdangerous.signer import HMACAlgorithm

CLICK = "tracking.click"
UNSUBSCRIBE = "tracking.unsubscribe"

MIN_KEY_LENGTH = 16
MAC_BYTES = 12  # 96 bits: forging one costs ~2^95 guesses, each a request to our server
_MAC_CHARS = 16  # 12 bytes in base64 without padding, no spare bits to malleate
_MAX_ID = 2**63 - 1  # what a BIGINT column holds
_MAX_PAYLOAD_CHARS = 40  # two ids of 2^63 take 24 characters; anything longer is not ours
_TOKEN_SHAPE = re.compile(
    rf"[A-Za-z0-9_-]{{1,{_MAX_PAYLOAD_CHARS}}}\.[A-Za-z0-9_-]{{{_MAC_CHARS}}}", re.ASCII
)


class TokenError(ValueError):
    """A token we did not make, made for another purpose, or with a key no longer listed."""


class _TruncatedHMAC(HMACAlgorithm):
    """HMAC-SHA256 cut to MAC_BYTES: a short link, still far beyond guessing."""

    def __init__(self) -> None:
        super().__init__(hashlib.sha256)

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.new(key, value, self.digest_method).digest()[:MAC_BYTES]


def click_token(keys: Sequence[str], letter_id: int, link_id: int) -> str:
    """The token of one link in one letter, for the click URL."""
    return _sign(keys, CLICK, (letter_id, link_id))


def read_click_token(keys: Sequence[str], token: str) -> tuple[int, int]:
    """(letter_id, link_id) of a click token made by `click_token` with a listed key."""
    letter_id, link_id = _unsign(keys, CLICK, token, count=2)
    return letter_id, link_id


def unsubscribe_token(keys: Sequence[str], subject_id: int) -> str:
    """The token of an unsubscribe link; the subject is a letter or a contact id."""
    return _sign(keys, UNSUBSCRIBE, (subject_id,))


def read_unsubscribe_token(keys: Sequence[str], token: str) -> int:
    """The subject id of a token made by `unsubscribe_token` with a listed key."""
    (subject_id,) = _unsign(keys, UNSUBSCRIBE, token, count=1)
    return subject_id


def _sign(keys: Sequence[str], purpose: str, ids: tuple[int, ...]) -> str:
    for number in ids:
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(f"ids must be int, got {type(number).__name__}")
        if not 0 <= number <= _MAX_ID:
            raise ValueError(f"ids must be between 0 and 2**63-1, got {number}")
    payload = base64.urlsafe_b64encode(b"".join(_varint(n) for n in ids)).rstrip(b"=")
    return _signer(_key_tuple(keys), purpose).sign(payload).decode("ascii")


def _unsign(keys: Sequence[str], purpose: str, token: str, *, count: int) -> tuple[int, ...]:
    signer = _signer(_key_tuple(keys), purpose)  # a bad key list is a ValueError, not a 404
    # Shape first: itsdangerous's base64 skips stray characters, and a cheap regex keeps
    # megabyte-long garbage away from the HMAC.
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        raise TokenError("not a token")
    try:
        payload = signer.unsign(token.encode("ascii")).decode("ascii")
    except BadSignature:
        raise TokenError("bad signature, foreign purpose or retired key") from None
    ids = _read_varints(payload)
    if ids is None or len(ids) != count:
        raise TokenError("a signed token of another layout")
    return ids


def _key_tuple(keys: Sequence[str]) -> tuple[str, ...]:
    if isinstance(keys, str | bytes) or not keys:
        raise ValueError(_KEYS_MESSAGE)
    return keys if isinstance(keys, tuple) else tuple(keys)


_KEYS_MESSAGE = (
    f"link signing keys must be a non-empty list of strings of at least {MIN_KEY_LENGTH}"
    " characters, newest first"
)


@lru_cache(maxsize=16)
def _signer(keys: tuple[str, ...], purpose: str) -> Signer:
    if any(not isinstance(key, str) or len(key) < MIN_KEY_LENGTH for key in keys):
        raise ValueError(_KEYS_MESSAGE)
    # The per-purpose keys are derived once here, exactly as itsdangerous's "hmac"
    # derivation would on every call (HMAC of the salt under the secret): the tokens are
    # the same, and a click's check costs one HMAC per key instead of two.
    derived = [hmac.new(key.encode(), purpose.encode(), hashlib.sha256).digest() for key in keys]
    # itsdangerous wants the keys oldest first and signs with the last one.
    return Signer(
        list(reversed(derived)),
        salt=purpose,
        key_derivation="none",
        digest_method=hashlib.sha256,
        algorithm=_TruncatedHMAC(),
    )


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varints(payload: str) -> tuple[int, ...] | None:
    """The ids in a payload, or None unless it is exactly what `_varint` writes."""
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except ValueError:
        return None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != payload:
        return None
    ids: list[int] = []
    number = shift = 0
    for index, byte in enumerate(raw):
        number |= (byte & 0x7F) << shift
        shift += 7
        if byte & 0x80:
            continue
        if byte == 0 and shift > 7:  # an overlong form of a shorter number
            return None
        if number > _MAX_ID:
            return None
        ids.append(number)
        number = shift = 0
        if index == len(raw) - 1:
            return tuple(ids)
    return None  # empty, or the last number never ended


def click_url(keys: Sequence[str], base_url: str, letter_id: int, link_id: int) -> str:
    """Where a tracked link in a letter points: our click endpoint, never the destination."""
    return f"{base_url}/c/{click_token(keys, letter_id, link_id)}"


def unsubscribe_url(keys: Sequence[str], base_url: str, contact_id: int) -> str:
    """The one-click unsubscribe page of a contact (RFC 8058 POSTs to the same address)."""
    return f"{base_url}/u/{unsubscribe_token(keys, contact_id)}"


def list_unsubscribe_headers(url: str, mailto: str) -> list[tuple[str, str]]:
    """RFC 2369 + RFC 8058 headers: a one-click HTTPS link and a mailto fallback."""
    token = url.rsplit("/", 1)[-1]
    # A token is URL-safe base64 and a dot: only the space needs quoting.
    mail = f"mailto:{mailto}?subject=unsubscribe%20{token}"
    return [
        ("List-Unsubscribe", f"<{url}>, <{mail}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
