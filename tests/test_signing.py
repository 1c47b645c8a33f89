"""Link tokens: ours round-trip and stay short; anything else, or a retired key, is refused."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mailer.letters.signing import (
    TokenError,
    click_token,
    read_click_token,
    read_unsubscribe_token,
    unsubscribe_token,
)

NEWEST = "newest-key-0123456789abcdef"
OLDER = "older-key-0123456789abcdef"
KEYS = [NEWEST, OLDER]
PATH_SAFE = re.compile(r"[A-Za-z0-9._-]+")
IDS = st.integers(min_value=0, max_value=2**63 - 1)


def test_a_click_token_carries_the_letter_and_the_link_back():
    assert read_click_token(KEYS, click_token(KEYS, 1234, 56)) == (1234, 56)


def test_an_unsubscribe_token_carries_its_subject_back():
    assert read_unsubscribe_token(KEYS, unsubscribe_token(KEYS, 42)) == 42


def test_a_click_token_for_realistic_ids_is_under_40_characters():
    token = click_token(KEYS, 99_999_999, 99_999)
    print(f"click token for letter 99_999_999, link 99_999: {token!r}, {len(token)} chars")
    assert len(token) < 40
    assert len(unsubscribe_token(KEYS, 99_999_999)) < 40


@given(letter_id=IDS, link_id=IDS)
@example(letter_id=0, link_id=0)
@example(letter_id=2**63 - 1, link_id=2**63 - 1)
def test_every_click_token_round_trips_and_is_path_safe(letter_id, link_id):
    token = click_token(KEYS, letter_id, link_id)
    assert PATH_SAFE.fullmatch(token)
    assert read_click_token(KEYS, token) == (letter_id, link_id)
    with pytest.raises(TokenError):
        read_unsubscribe_token(KEYS, token)


@given(subject_id=IDS)
def test_every_unsubscribe_token_round_trips_and_never_passes_for_a_click(subject_id):
    token = unsubscribe_token(KEYS, subject_id)
    assert PATH_SAFE.fullmatch(token)
    assert read_unsubscribe_token(KEYS, token) == subject_id
    with pytest.raises(TokenError):
        read_click_token(KEYS, token)


@given(garbage=st.text(max_size=300))
@example(garbage="")
@example(garbage=".")
@example(garbage="привет.мир")
@example(garbage="A" * 100_000)
@example(garbage="AQI.AAAAAAAAAAAAAAAAAAAAAA")
def test_random_strings_are_refused_with_a_token_error(garbage):
    with pytest.raises(TokenError):
        read_click_token(KEYS, garbage)
    with pytest.raises(TokenError):
        read_unsubscribe_token(KEYS, garbage)


def test_a_click_token_for_another_purpose_is_refused():
    with pytest.raises(TokenError):
        read_click_token(KEYS, unsubscribe_token(KEYS, 7))
    with pytest.raises(TokenError):
        read_unsubscribe_token(KEYS, click_token(KEYS, 7, 8))


def test_a_token_with_any_character_changed_is_refused():
    token = click_token(KEYS, 99_999_999, 99_999)
    for index, char in enumerate(token):
        for replacement in {"A", "B", "_", "-", "."} - {char}:
            tampered = token[:index] + replacement + token[index + 1 :]
            with pytest.raises(TokenError):
                read_click_token(KEYS, tampered)


def test_a_truncated_or_extended_token_is_refused():
    token = click_token(KEYS, 99_999_999, 99_999)
    for cut in range(len(token)):
        with pytest.raises(TokenError):
            read_click_token(KEYS, token[:cut])
    for tail in ["A", "=", "==", "!", " ", "\n", "%2F", "é"]:
        with pytest.raises(TokenError):
            read_click_token(KEYS, token + tail)
    with pytest.raises(TokenError):
        read_click_token(KEYS, " " + token)


def test_a_token_whose_payload_is_swapped_for_another_tokens_is_refused():
    one, other = click_token(KEYS, 1, 2), click_token(KEYS, 3, 4)
    forged = other.split(".")[0] + "." + one.split(".")[1]
    with pytest.raises(TokenError):
        read_click_token(KEYS, forged)


def test_it_signs_with_the_newest_key_and_still_reads_the_older_ones():
    by_older = click_token([OLDER], 5, 6)
    assert read_click_token(KEYS, by_older) == (5, 6)
    by_rotation = click_token(KEYS, 5, 6)
    assert read_click_token([NEWEST], by_rotation) == (5, 6)
    with pytest.raises(TokenError):
        read_click_token([OLDER], by_rotation)


def test_a_token_made_with_a_key_no_longer_listed_is_refused():
    token = click_token([OLDER], 5, 6)
    with pytest.raises(TokenError):
        read_click_token([NEWEST], token)
    with pytest.raises(TokenError):
        read_unsubscribe_token([NEWEST], unsubscribe_token([OLDER], 5))


@pytest.mark.parametrize(
    "keys",
    [[], (), ["short"], [NEWEST, "x" * 15], NEWEST, [b"bytes-key-0123456789"], [None]],
    ids=["empty", "empty-tuple", "short", "one-short", "bare-string", "bytes", "none"],
)
def test_it_refuses_an_empty_or_weak_key_list_with_one_clear_message(keys):
    with pytest.raises(ValueError, match="at least 16 characters, newest first"):
        click_token(keys, 1, 2)
    with pytest.raises(ValueError, match="at least 16 characters, newest first") as refused:
        read_click_token(keys, "AQI.AAAAAAAAAAAAAAAAAAAAAA")
    assert not isinstance(refused.value, TokenError)  # a misconfiguration, not a bad link


@pytest.mark.parametrize("bad", [-1, 2**63, 1.0, True, "1"])
def test_it_refuses_ids_that_are_not_non_negative_64_bit_ints(bad):
    with pytest.raises((TypeError, ValueError)):
        click_token(KEYS, bad, 1)
    with pytest.raises((TypeError, ValueError)):
        unsubscribe_token(KEYS, bad)
