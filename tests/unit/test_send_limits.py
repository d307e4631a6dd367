"""The limits a publisher checks before sending, and when it reads them again."""

from __future__ import annotations

import pytest

from accessflow.adapters.kafka import limits
from accessflow.adapters.kafka.limits import SendLimits, TopicLimits
from accessflow.adapters.kafka.producer import MAX_BATCH_SIZE, MAX_REQUEST_SIZE
from accessflow.settings import load_settings


def test_the_smaller_of_the_topic_and_the_producer_limit_applies() -> None:
    assert SendLimits.for_topic(10_000) == SendLimits(10_000, 10_000)
    assert SendLimits.for_topic(500_000) == SendLimits(500_000, MAX_BATCH_SIZE)
    assert SendLimits.for_topic(8_000_000) == SendLimits(MAX_REQUEST_SIZE, MAX_BATCH_SIZE)
    assert SendLimits.for_topic(None) == SendLimits(MAX_REQUEST_SIZE, MAX_BATCH_SIZE)


async def test_the_topic_limit_is_read_again_only_once_it_may_be_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [10_000, 100_000, 100_000]
    reads: list[str] = []

    async def broker_says(settings: object, topic: str) -> int:
        reads.append(topic)
        return answers[len(reads) - 1]

    monkeypatch.setattr(limits, "topic_max_message_bytes", broker_says)
    topic = TopicLimits(load_settings(), "events", max_age=0.0)
    assert (await topic.read()).max_message_bytes == 10_000
    assert await topic.changed()  # an operator raised it
    assert topic.current.max_message_bytes == 100_000
    assert not await topic.changed()  # read again: the same
    assert reads == ["events"] * 3

    fresh = TopicLimits(load_settings(), "events", max_age=3600.0)
    answers[:] = [10_000]
    reads.clear()
    await fresh.read()
    assert not await fresh.changed()  # just read: not asked again
    assert reads == ["events"]
