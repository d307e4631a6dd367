"""The dead-letter queue: the original bytes, untouched, with the wire contract's headers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that is not a command, or a command that kept failing."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    code: str
    message: str

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("accessflow-error-code", self.code.encode()),
            # Headers are for humans and tools; a huge message would bloat every DLQ record.
            ("accessflow-error-message", self.message[:1000].encode()),
            ("accessflow-original-topic", self.topic.encode()),
            ("accessflow-original-partition", str(self.partition).encode()),
            ("accessflow-original-offset", str(self.offset).encode()),
        ]


async def send_dead_letters(
    producer: AIOKafkaProducer, topic: str, letters: list[DeadLetter]
) -> None:
    """Publish all, then await all; raises if any was not acknowledged."""
    futures = [
        await producer.send(topic, letter.value, key=letter.key, headers=letter.headers())
        for letter in letters
    ]
    await asyncio.gather(*futures)
