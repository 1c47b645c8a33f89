"""Fewer collector passes during bulk work, and the settings as they were afterwards."""

from __future__ import annotations

import gc

import pytest

from mailer.storage.gc_tuning import fewer_collections


def test_it_raises_the_young_threshold_and_freezes_the_heap_inside_the_block():
    before = gc.get_threshold()

    with fewer_collections(threshold=40_000):
        assert gc.get_threshold() == (40_000, *before[1:])
        assert gc.get_freeze_count() > 0

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_it_restores_the_settings_when_the_block_raises():
    before = gc.get_threshold()

    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("boom")

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_nested_blocks_restore_only_when_the_outer_one_ends():
    before = gc.get_threshold()

    with fewer_collections(threshold=40_000):
        with fewer_collections(threshold=60_000):
            pass
        assert gc.get_threshold()[0] == 40_000
        assert gc.get_freeze_count() > 0

    assert gc.get_threshold() == before


def test_it_never_lowers_a_threshold_that_is_already_higher():
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        with fewer_collections(threshold=40_000):
            assert gc.get_threshold()[0] == 100_000
    finally:
        gc.set_threshold(*before)
