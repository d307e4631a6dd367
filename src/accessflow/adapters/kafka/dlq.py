"""The dead-letter queue: the original bytes, untouched, with the wire contract's headers;
or, when that copy could never be written, a reference to the original (see
:mod:`accessflow.service.dead_letters`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from accessflow.adapters.kafka.errors import is_permanent
from accessflow.service.dead_letters import HEAD_BYTES, KEY_BYTES, REFERENCE_HEADER, DlqReference

#: The headers the DLQ adds (wire contract); every other header is the original record's.
DLQ_HEADER_PREFIXES = ("accessflow-error-", "accessflow-original-", REFERENCE_HEADER)
#: A reference keeps the record's own headers up to this size (names are always listed).
KEPT_HEADER_BYTES = 4096
_LISTED_HEADER_NAMES = 32
#: The largest reference is far below this; a DLQ that cannot take it is refused at start.
MIN_DLQ_RECORD_BYTES = 65_536

Headers = list[tuple[str, bytes]]


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
    timestamp: int | None = None

    def headers(self) -> Headers:
        return [*self.own_headers(), *self.dlq_headers()]

    def own_headers(self) -> Headers:
        return [(k, v) for k, v in self.original_headers if not k.startswith(DLQ_HEADER_PREFIXES)]

    def dlq_headers(self) -> Headers:
        return [
            ("accessflow-error-code", self.code.encode()),
            # Headers are for humans and tools; a huge message would bloat every DLQ record.
            ("accessflow-error-message", self.message[:1000].encode()),
            ("accessflow-original-topic", self.topic.encode()),
            ("accessflow-original-partition", str(self.partition).encode()),
            ("accessflow-original-offset", str(self.offset).encode()),
        ]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One DLQ record as it will be sent: the letter's copy, or its reference."""

    letter: DeadLetter
    key: bytes | None
    value: bytes | None
    headers: Headers
    reference: bool = False

    @property
    def size(self) -> int:
        return record_size(self.key, self.value, self.headers)


def record_size(key: bytes | None, value: bytes | None, headers: Headers) -> int:
    """An upper bound of the record's size as a one-record batch: what the producer compares
    with ``max_request_size`` and the broker with the topic's ``max.message.bytes`` (batch
    header and the largest record overhead included, so no further headroom is needed)."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    return size


def copy_of(letter: DeadLetter) -> Outgoing:
    return Outgoing(letter, letter.key, letter.value, letter.headers())


def reference_to(letter: DeadLetter, reason: str) -> Outgoing:
    """The small JSON stand-in for ``letter``: where the original is, what it was, why."""
    value = letter.value or b""
    key = letter.key or b""
    own = letter.own_headers()
    own_size = sum(len(k.encode()) + len(v or b"") for k, v in own)
    document = DlqReference(
        original_topic=letter.topic,
        original_partition=letter.partition,
        original_offset=letter.offset,
        original_timestamp=letter.timestamp,
        key_base64=None if letter.key is None else base64.b64encode(key[:KEY_BYTES]).decode(),
        key_size_bytes=len(key),
        size_bytes=len(value),
        sha256=None if letter.value is None else hashlib.sha256(value).hexdigest(),
        head_base64=base64.b64encode(value[:HEAD_BYTES]).decode(),
        headers_size_bytes=own_size,
        header_names=[k[:64] for k, _ in own[:_LISTED_HEADER_NAMES]],
        error_code=letter.code,
        error_message=letter.message[:1000],
        reason=reason[:1000],
    )
    kept = own if own_size <= KEPT_HEADER_BYTES else []
    return Outgoing(
        letter,
        letter.key if len(key) <= KEY_BYTES else None,
        document.model_dump_json(by_alias=True).encode(),
        [*kept, *letter.dlq_headers(), (REFERENCE_HEADER, b"true")],
        reference=True,
    )


def prepared(letter: DeadLetter, max_record_bytes: int) -> Outgoing:
    """The copy when it fits the DLQ, else the reference."""
    copy = copy_of(letter)
    if copy.size <= max_record_bytes:
        return copy
    return reference_to(
        letter,
        f"the copy is {copy.size} bytes with its key and headers, over the DLQ's "
        f"{max_record_bytes}-byte limit",
    )


async def send_dead_letters(
    producer: AIOKafkaProducer, topic: str, letters: list[Outgoing]
) -> list[tuple[Outgoing, BaseException]]:
    """Publish all, then await all. Returns the letters refused for good, with the refusal;
    raises the first transient failure (the caller retries; a letter already written may
    then be written twice, which the contract allows)."""
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[object]] = []
    for letter in letters:
        try:
            futures.append(
                await producer.send(topic, letter.value, key=letter.key, headers=letter.headers)
            )
        except Exception as exc:
            if not is_permanent(exc):
                raise
            refused: asyncio.Future[object] = loop.create_future()
            refused.set_exception(exc)
            futures.append(refused)
    results = await asyncio.gather(*futures, return_exceptions=True)
    failures = [
        (letter, result)
        for letter, result in zip(letters, results, strict=True)
        if isinstance(result, BaseException)
    ]
    for _, error in failures:
        if not is_permanent(error):
            raise error
    return failures
