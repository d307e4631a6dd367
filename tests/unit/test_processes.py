"""The worker's side loops: one that dies stops the whole process instead of leaving it
running half-working."""

from __future__ import annotations

import asyncio
import gc

from accessflow.entrypoints.processes import GC_YOUNG_THRESHOLD, _stop_if_it_fails, tune_gc


async def _fails() -> None:
    raise RuntimeError("a bug in the relay")


async def _returns() -> None:
    return None


async def test_a_failed_side_loop_stops_the_worker() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_fails())
    _stop_if_it_fails(task, stop, "relay")
    await asyncio.wait({task})
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert stop.is_set()


async def test_a_side_loop_that_ends_normally_does_not() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_returns())
    _stop_if_it_fails(task, stop, "relay")
    await task
    await asyncio.sleep(0)
    assert not stop.is_set()


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
