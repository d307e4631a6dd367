"""The worker's loops under one supervisor: a loop that fails stops the others, every loop
still drains, the relay drains last, and the failure is raised once all have returned."""

from __future__ import annotations

import asyncio

import pytest

from accessflow.entrypoints.supervise import Loop, supervise


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []

    def draining(self, name: str) -> Loop:
        """A loop that runs until its stop event, then drains (a step the test can see)."""

        async def run(stop: asyncio.Event) -> None:
            await stop.wait()
            await asyncio.sleep(0.01)  # in-flight work finishing
            self.steps.append(f"{name} drained")

        return Loop(name, run)

    def failing(self, name: str, error: Exception) -> Loop:
        async def run(stop: asyncio.Event) -> None:
            await asyncio.sleep(0.01)
            self.steps.append(f"{name} failed")
            raise error

        return Loop(name, run)


async def test_a_failing_loop_stops_the_others_and_every_drain_still_runs() -> None:
    recorder = Recorder()
    stop = asyncio.Event()
    loops = [
        recorder.draining("consumer"),
        recorder.failing("timers", RuntimeError("a bug in the timer loop")),
        recorder.draining("deliveries"),
    ]

    with pytest.raises(RuntimeError, match="a bug in the timer loop"):
        await asyncio.wait_for(supervise(loops, stop, last=recorder.draining("relay")), timeout=5)

    assert stop.is_set()
    assert recorder.steps[0] == "timers failed"
    assert sorted(recorder.steps[1:3]) == ["consumer drained", "deliveries drained"]
    assert recorder.steps[3:] == ["relay drained"]  # after everything it publishes for


async def test_a_failing_relay_stops_the_loops_that_feed_it() -> None:
    recorder = Recorder()
    stop = asyncio.Event()

    with pytest.raises(ConnectionAbortedError):
        await asyncio.wait_for(
            supervise(
                [recorder.draining("consumer")],
                stop,
                last=recorder.failing("relay", ConnectionAbortedError("refused")),
            ),
            timeout=5,
        )

    assert recorder.steps == ["relay failed", "consumer drained"]


async def test_several_failures_are_all_raised() -> None:
    recorder = Recorder()
    loops = [
        recorder.failing("timers", KeyError("a")),
        recorder.failing("deliveries", KeyError("b")),
    ]

    with pytest.raises(ExceptionGroup) as raised:
        await asyncio.wait_for(supervise(loops, asyncio.Event(), last=None), timeout=5)

    assert sorted(str(e) for e in raised.value.exceptions) == ["'a'", "'b'"]


async def test_a_stop_from_outside_drains_everything_and_raises_nothing() -> None:
    recorder = Recorder()
    stop = asyncio.Event()
    task = asyncio.create_task(
        supervise([recorder.draining("consumer")], stop, last=recorder.draining("relay"))
    )
    await asyncio.sleep(0.01)
    stop.set()

    await asyncio.wait_for(task, timeout=5)

    assert recorder.steps == ["consumer drained", "relay drained"]
