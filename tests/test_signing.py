"""Signed tokens: ours round-trip, foreign or cross-purpose ones are refused."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.letters.signing import (
    UNSUBSCRIBE,
    BadTokenError,
    list_unsubscribe_headers,
    sign,
    unsign,
    unsubscribe_token,
)


def test_an_unsubscribe_token_carries_the_contact_back():
    assert unsign("secret", UNSUBSCRIBE, unsubscribe_token("secret", 42)) == 42


def test_a_token_made_with_another_secret_or_purpose_is_refused():
    token = unsubscribe_token("secret", 42)
    with pytest.raises(BadTokenError):
        unsign("other secret", UNSUBSCRIBE, token)
    with pytest.raises(BadTokenError):
        unsign("secret", "mailer.click", token)
    with pytest.raises(BadTokenError):
        unsign("secret", UNSUBSCRIBE, sign("secret", UNSUBSCRIBE, 42) + "x")


@given(st.integers(min_value=1, max_value=2**62), st.text(min_size=1, max_size=20))
def test_the_mailto_fallback_carries_the_token_percent_encoded(contact_id, secret):
    [(_, links), _] = list_unsubscribe_headers(
        secret, "https://m.example", "u@m.example", contact_id
    )
    token = unsubscribe_token(secret, contact_id)
    assert links.endswith(f"<mailto:u@m.example?subject={quote('unsubscribe ' + token)}>")
