"""How large a record a topic accepts, as the broker says, for checks before sending."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.producer import MAX_BATCH_SIZE, MAX_REQUEST_SIZE
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger(__name__)

#: A v2 record batch's header (offset, length, epoch, magic, CRC, … record count): what a
#: batch of one record weighs beyond the record itself.
BATCH_HEADER_BYTES = 61


@dataclass(frozen=True, slots=True)
class SendLimits:
    """What one publisher's sends must stay within.

    ``max_message_bytes`` bounds a batch holding one record: the producer's request size
    and the topic's ``max.message.bytes`` (which the broker applies to whole record batches,
    so ``batch_bytes`` bounds the batches of several records by it as well).
    """

    max_message_bytes: int
    batch_bytes: int

    @classmethod
    def for_topic(cls, topic_max_message_bytes: int | None) -> SendLimits:
        """The limits given the topic's ``max.message.bytes`` (None: unknown, and then the
        producer's own limit applies; the broker's refusal still catches the rest)."""
        limit = MAX_REQUEST_SIZE
        if topic_max_message_bytes is not None:
            limit = min(limit, topic_max_message_bytes)
        return cls(max_message_bytes=limit, batch_bytes=min(limit, MAX_BATCH_SIZE))


async def topic_max_message_bytes(settings: Settings, topic: str) -> int | None:
    """The topic's ``max.message.bytes``; None when the broker does not say (no
    DescribeConfigs permission, an old broker): the caller then knows less, never stops."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": None})]
        )
        for response in responses:
            for error_code, _message, _type, _name, entries in response.resources:
                if error_code:
                    continue
                for name, value, *_ in entries:
                    if name == "max.message.bytes" and str(value).isdigit():
                        return int(value)
    except Exception as exc:  # a missing answer only weakens a check made again by the broker
        log.warning("kafka.topic_limit_unknown", topic=topic, error=f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return None


class TopicLimits:
    """A topic's :class:`SendLimits` as last read from the broker.

    Read when a producer starts, and again before a refusal is acted on (at most once per
    ``max_age`` seconds): an operator who raised the topic's limit and retried parked
    events must not see them parked again against the old one.
    """

    def __init__(self, settings: Settings, topic: str, *, max_age: float = 1.0) -> None:
        self._settings = settings
        self._topic = topic
        self._max_age = max_age
        self._read_at: float | None = None
        self.current = SendLimits.for_topic(None)

    async def read(self) -> SendLimits:
        self.current = SendLimits.for_topic(
            await topic_max_message_bytes(self._settings, self._topic)
        )
        self._read_at = time.monotonic()
        log.info(
            "kafka.topic_limits",
            topic=self._topic,
            max_message_bytes=self.current.max_message_bytes,
            batch_bytes=self.current.batch_bytes,
        )
        return self.current

    async def changed(self) -> bool:
        """Read again unless just read; True when the limits are not what they were."""
        if self._read_at is not None and time.monotonic() - self._read_at < self._max_age:
            return False
        before = self.current
        return await self.read() != before
