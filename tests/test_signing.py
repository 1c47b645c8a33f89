"""Signed tokens: ours round-trip, foreign or cross-purpose ones are refused."""

from __future__ import annotations

import pytest

from mailer.signing import UNSUBSCRIBE, BadTokenError, sign, unsign, unsubscribe_token


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
