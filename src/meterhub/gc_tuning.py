"""Cyclic garbage collection for long-running event-loop processes (head-end, simulator).

Such a process holds a large, stable heap (modules, the fleet, thousands of sessions)
and allocates a few short-lived containers per frame (coroutines, futures, records),
almost all freed by reference counting. With CPython's default young-generation
threshold (700 allocations) the collector ran hundreds of times per polling cycle and
re-scanned every in-flight coroutine each time: a fifth of the head-end's CPU at 2,000
collectors (docs/benchmarks.md). Collecting less often costs a few MB of cyclic garbage
at most; nothing is freed later than the next collection.
"""

from __future__ import annotations

import gc

#: container allocations (net of frees) between young-generation collections
YOUNG_THRESHOLD = 50_000
#: young collections per middle one, middle ones per full one
OLDER_THRESHOLDS = (20, 20)


def settle_long_lived() -> None:
    """Call once everything the process keeps for its lifetime is loaded.

    Freezes what exists now out of the collector's way (it still dies by reference
    counting, so a later fleet snapshot replaces the old one without a leak), and makes
    young collections rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
