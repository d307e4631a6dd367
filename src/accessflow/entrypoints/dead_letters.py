"""The worker's side of the DLQ: every dead letter lands there, as a copy or a reference.

A copy that cannot fit the DLQ topic is sent as a reference from the start; a copy the
broker refuses anyway for good (a limit lowered since the start, a record it calls invalid)
is counted, logged and sent as a reference instead. Outages are waited out like everywhere
else. Only a DLQ that refuses even a reference (not authorised, no such topic, a policy)
stops the worker, loudly: the poll's offsets are not committed, so the records are read
again once an operator fixes the DLQ, and nothing is skipped unrecorded.
"""

from __future__ import annotations

import asyncio
import functools

from aiokafka import AIOKafkaProducer

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.dlq import (
    MIN_DLQ_RECORD_BYTES,
    DeadLetter,
    Outgoing,
    prepared,
    reference_to,
    send_dead_letters,
)
from accessflow.adapters.kafka.limits import SendLimits, topic_max_message_bytes
from accessflow.adapters.kafka.producer import MAX_REQUEST_SIZE, make_producer
from accessflow.adapters.kafka.refusals import is_destination_refusal
from accessflow.entrypoints.observability import Metrics
from accessflow.entrypoints.retry import retry_transient
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger("accessflow.worker")


class DeadLetterQueueUnwritableError(Exception):
    """The DLQ refuses even a reference: an operator must fix the topic or its ACLs."""


class DeadLetterWriter:
    def __init__(
        self, settings: Settings, metrics: Metrics, producer: AIOKafkaProducer | None = None
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self.max_record_bytes = MAX_REQUEST_SIZE
        self._producer = producer or make_producer(settings, linger_ms=0)

    async def start(self, stop: asyncio.Event) -> None:
        self.max_record_bytes = await self._limit()
        if self.max_record_bytes < MIN_DLQ_RECORD_BYTES:
            raise DeadLetterQueueUnwritableError(
                f"the DLQ topic {self._settings.dlq_topic} accepts records of at most "
                f"{self.max_record_bytes} bytes; accessflow needs {MIN_DLQ_RECORD_BYTES} "
                "(raise its max.message.bytes)"
            )
        await retry_transient(
            lambda: start_client(self._producer, self._settings), what="dlq.start", stop=stop
        )

    async def _limit(self) -> int:
        """The largest DLQ record both the producer and the topic accept (the producer's
        alone when the broker does not say; its refusal is then handled as below)."""
        topic = self._settings.dlq_topic
        topic_max = await topic_max_message_bytes(self._settings, topic)
        limit = SendLimits.for_topic(topic_max).max_message_bytes
        log.info("dlq.limits", topic=topic, max_record_bytes=limit)
        return limit

    async def stop(self) -> None:
        await self._producer.stop()

    async def write(self, letters: list[DeadLetter], stop: asyncio.Event) -> None:
        """Return once every letter is in the DLQ (as a copy or a reference)."""
        outgoing = [prepared(letter, self.max_record_bytes) for letter in letters]
        while outgoing:
            send = functools.partial(
                send_dead_letters, self._producer, self._settings.dlq_topic, outgoing
            )
            refused = await retry_transient(send, what="dlq.send", stop=stop)
            refused_ids = {id(item) for item, _ in refused}
            for item in outgoing:
                if id(item) not in refused_ids:
                    self._written(item)
            outgoing = [self._instead(item, error) for item, error in refused]

    def _written(self, item: Outgoing) -> None:
        self._metrics.dead_lettered.labels(item.letter.code).inc()
        if item.reference:
            self._metrics.dead_letter_references.labels(item.letter.code).inc()
            log.warning(
                "dlq.reference_written",
                original_partition=item.letter.partition,
                original_offset=item.letter.offset,
                code=item.letter.code,
                size_bytes=len(item.letter.value or b""),
            )

    def _instead(self, item: Outgoing, error: BaseException) -> Outgoing:
        """A letter the broker refused for good: its reference, unless nothing can pass."""
        letter = item.letter
        self._metrics.dead_letters_failed.labels(letter.code).inc()
        log.error(
            "dlq.refused",
            original_partition=letter.partition,
            original_offset=letter.offset,
            code=letter.code,
            form="reference" if item.reference else "copy",
            error=repr(error),
        )
        if item.reference or is_destination_refusal(error):
            log.error("dlq.unwritable", topic=self._settings.dlq_topic, error=repr(error))
            raise DeadLetterQueueUnwritableError(
                f"the DLQ topic {self._settings.dlq_topic} refuses dead letters ({error!r}); "
                "the poll is left uncommitted and is read again once the DLQ accepts writes"
            ) from error
        return reference_to(letter, f"the copy was refused: {error!r}")
