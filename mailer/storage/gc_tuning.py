"""Bulk work with fewer garbage-collector passes.

An import allocates tens of thousands of short-lived objects per chunk. With the default
threshold (700) the collector runs dozens of times per chunk, and its full passes walk
every object the process holds (the ORM's metadata, the app, imported modules): in the
import benchmark that was a fifth of the storing process's time. Reference counting
frees nearly all of a chunk's objects anyway; the collector only has to catch cycles.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Young objects allocated between two collections: about one import chunk's worth, so
# cyclic garbage stays bounded (memory is still flat) while passes become rare.
BULK_THRESHOLD = 50_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections(threshold: int = BULK_THRESHOLD) -> Iterator[None]:
    """Collect young objects every `threshold` allocations and leave the objects that exist
    on entry out of every pass (gc.freeze); the previous settings come back on exit.

    Nested or concurrent uses share one setting: the first entry sets it, the last exit
    restores it. A process forked inside the block (the import's reader) inherits it.
    """
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(threshold, _saved[0]), *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
