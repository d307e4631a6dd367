"""The worker's side loops: one that dies stops the whole process instead of leaving it
running half-working."""

from __future__ import annotations

import asyncio

from accessflow.entrypoints.processes import _stop_if_it_fails


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
