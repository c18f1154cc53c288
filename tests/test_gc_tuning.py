"""The head-end and the simulator settle their long-lived heap before they start."""

from __future__ import annotations

import gc

from meterhub import gc_tuning


def test_settle_long_lived_freezes_the_heap_and_makes_young_collections_rarer():
    thresholds = gc.get_threshold()
    try:
        gc.unfreeze()
        kept = [[n] for n in range(1000)]
        gc_tuning.settle_long_lived()
        assert gc.get_threshold() == (gc_tuning.YOUNG_THRESHOLD, *gc_tuning.OLDER_THRESHOLDS)
        assert gc.get_freeze_count() >= len(kept)
        scanned = {id(o) for o in gc.get_objects()}  # what the collector still looks at
        assert not any(id(x) in scanned for x in kept)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_frozen_objects_still_die_by_reference_counting():
    import weakref

    class Node:
        pass

    thresholds = gc.get_threshold()
    try:
        node = Node()
        ref = weakref.ref(node)
        gc_tuning.settle_long_lived()
        del node
        assert ref() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
