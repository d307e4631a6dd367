"""The worker process's start-up tuning (its loops' supervision: test_supervise.py)."""

from __future__ import annotations

import gc

from accessflow.entrypoints.serve import GC_YOUNG_THRESHOLD, tune_gc


def test_tune_gc_freezes_what_lives_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2])
        assert gc.isenabled()  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
