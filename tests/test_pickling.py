"""Dataclasses sent between processes go as their fields' values: smaller, same objects."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime

from mailer.contacts.book import Consent
from mailer.storage.pickling import pickle_as_field_tuples


@dataclass
class Row:
    line: int
    values: list[str]
    raw: str


def test_a_registered_dataclass_pickles_smaller_and_loads_equal():
    row = Row(7, ["Иван", "ivan@toyota.example"], "Иван;ivan@toyota.example")
    as_dict = pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)
    pickle_as_field_tuples(Row)
    as_tuple = pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(as_tuple) < len(as_dict)
    assert pickle.loads(as_tuple) == row


@dataclass
class One:
    value: int = 3


def test_a_one_field_dataclass_and_a_domain_one_survive():
    pickle_as_field_tuples(One, Consent)
    assert pickle.loads(pickle.dumps(One(5))) == One(5)
    consent = Consent(True, datetime(2026, 3, 12, tzinfo=UTC), "устно")
    assert pickle.loads(pickle.dumps(consent)) == consent
