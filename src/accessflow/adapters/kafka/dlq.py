"""The dead-letter queue: the original bytes, untouched, with the wire contract's headers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

#: The headers the DLQ adds (wire contract); every other header is the original record's.
DLQ_HEADER_PREFIXES = ("accessflow-error-", "accessflow-original-")


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
    # The record's own headers (traceparent, content-type…), kept so a replay restores them.
    original_headers: tuple[tuple[str, bytes], ...] = ()

    def headers(self) -> list[tuple[str, bytes]]:
        own = [(k, v) for k, v in self.original_headers if not k.startswith(DLQ_HEADER_PREFIXES)]
        return [
            *own,
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
