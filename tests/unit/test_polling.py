"""``eventually``: the one bounded wait the integration and e2e tests use."""

from __future__ import annotations

import pytest
from polling import eventually


async def test_returns_the_first_truthy_answer_sync_or_async() -> None:
    answers = iter([0, None, "", "ready"])
    assert await eventually(lambda: next(answers), interval=0) == "ready"

    calls: list[int] = []

    async def third_call() -> int:
        calls.append(len(calls) + 1)
        return calls[-1] if calls[-1] >= 3 else 0

    assert await eventually(third_call, interval=0) == 3


async def test_retries_the_named_errors_and_fails_at_once_on_any_other() -> None:
    attempts = iter([ConnectionError(), ConnectionError(), True])

    def flaky() -> bool:
        answer = next(attempts)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await eventually(flaky, interval=0, retry_on=(ConnectionError,))
    with pytest.raises(AssertionError, match="process exited"):
        await eventually(_exited, seconds=60, interval=0)


def _exited() -> bool:
    raise AssertionError("process exited")


async def test_gives_up_after_the_bound_naming_what_it_waited_for() -> None:
    state = {"seen": 0}

    def never() -> bool:
        state["seen"] += 1
        return False

    with pytest.raises(AssertionError, match=r"gave up after 0\.05 s waiting for 2 events"):
        await eventually(never, seconds=0.05, interval=0.01, what=lambda: "2 events")
    assert state["seen"] >= 2
