"""How large a record the broker takes, read from the broker: checked once at start against
the configured budgets, and before sending against each topic's current limit.

accessflow bounds every event by ``ACCESSFLOW_MAX_EVENT_BYTES`` and every command by
``ACCESSFLOW_MAX_COMMAND_BYTES`` (docs/security.md, Limits). A record that size, plus its
batch framing, key and headers, must fit both the producer's ``max_request_size`` and the
topic's ``max.message.bytes``; otherwise the first large record would be refused by the
broker forever. Each process checks the topics it writes at start and refuses to start,
naming the topic, the broker's value and the setting, rather than find out later.

Publishers also keep each topic's :class:`SendLimits` (re-read when a refusal may mean an
operator changed it), so the relay sets aside an event no batch can carry before sending.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.producer import MAX_BATCH_SIZE, MAX_REQUEST_SIZE
from accessflow.logs import get_logger
from accessflow.settings_base import KafkaConnectionSettings

log = get_logger(__name__)

MAX_MESSAGE_BYTES = "max.message.bytes"
#: Record-batch header (61 B), the record's own framing, its key (a request id) and the
#: CloudEvents content-type header, with room to spare: what a record adds to its value.
RECORD_OVERHEAD_BYTES = 1_024
#: A v2 record batch's header (offset, length, epoch, magic, CRC, … record count): what a
#: batch of one record weighs beyond the record itself.
BATCH_HEADER_BYTES = 61
_UNKNOWN_TOPIC = 3


class TopicLimitError(Exception):
    """The broker or the producer would refuse records the configured budget allows."""


@dataclass(frozen=True, slots=True)
class Budget:
    """A topic accessflow writes and the largest record value it may write there."""

    topic: str
    value_bytes: int
    setting: str

    @property
    def record_bytes(self) -> int:
        return self.value_bytes + RECORD_OVERHEAD_BYTES


def event_budget(settings: KafkaConnectionSettings) -> Budget:
    return Budget(settings.events_topic, settings.max_event_bytes, "ACCESSFLOW_MAX_EVENT_BYTES")


def command_budget(settings: KafkaConnectionSettings) -> Budget:
    return Budget(
        settings.commands_topic, settings.max_command_bytes, "ACCESSFLOW_MAX_COMMAND_BYTES"
    )


def problems(budget: Budget, topic_max_bytes: int | None) -> list[str]:
    """Why ``budget`` does not fit the producer or a topic taking ``topic_max_bytes``."""
    found = []
    if budget.record_bytes > MAX_REQUEST_SIZE:
        found.append(
            f"{budget.setting}={budget.value_bytes} plus {RECORD_OVERHEAD_BYTES} bytes of "
            f"record overhead exceeds the producer's max_request_size "
            f"({MAX_REQUEST_SIZE}); lower {budget.setting}"
        )
    if topic_max_bytes is not None and budget.record_bytes > topic_max_bytes:
        found.append(
            f"topic {budget.topic} has {MAX_MESSAGE_BYTES}={topic_max_bytes}, below "
            f"{budget.setting}={budget.value_bytes} plus {RECORD_OVERHEAD_BYTES} bytes of "
            f"record overhead; raise the topic's {MAX_MESSAGE_BYTES} to at least "
            f"{budget.record_bytes} (kafka-configs --alter --entity-type topics "
            f"--entity-name {budget.topic} --add-config {MAX_MESSAGE_BYTES}={budget.record_bytes})"
        )
    return found


async def describe_max_message_bytes(
    settings: KafkaConnectionSettings, topics: list[str]
) -> dict[str, int]:
    """Each existing topic's ``max.message.bytes`` as the broker reports it (a topic that
    does not exist yet is left out: it is checked once ``topics ensure`` has made it)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        # A broker that refuses us says why (KafkaAccessRefused, never retried); one that is
        # away raises a transient error the caller waits out.
        await start_client(admin, settings)
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name, {MAX_MESSAGE_BYTES: None})
                for name in topics
            ]
        )
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    found: dict[str, int] = {}
    for response in responses:
        for code, message, _type, name, entries in response.resources:
            if code == _UNKNOWN_TOPIC:
                continue
            if code:
                raise TopicLimitError(f"describing topic {name}: error {code} {message}")
            for key, value, *_ in entries:
                if key == MAX_MESSAGE_BYTES and str(value).isdigit():
                    found[name] = int(value)
    return found


async def check_topic_limits(settings: KafkaConnectionSettings, budgets: list[Budget]) -> None:
    """Raise :class:`TopicLimitError` naming every budget the broker or producer refuses."""
    limits = await describe_max_message_bytes(settings, [b.topic for b in budgets])
    found = [p for budget in budgets for p in problems(budget, limits.get(budget.topic))]
    if found:
        raise TopicLimitError("; ".join(found))
    for budget in budgets:
        if budget.topic not in limits:
            log.warning("kafka.topic_limit_unchecked", topic=budget.topic, why="no such topic yet")
            continue
        log.info(
            "kafka.topic_limit_checked",
            topic=budget.topic,
            max_message_bytes=limits.get(budget.topic),
            budget_bytes=budget.value_bytes,
        )


async def topic_max_message_bytes(settings: KafkaConnectionSettings, topic: str) -> int | None:
    """The topic's ``max.message.bytes``; None when the broker does not say (no
    DescribeConfigs permission, an old broker): the caller then knows less, never stops."""
    try:
        return (await describe_max_message_bytes(settings, [topic])).get(topic)
    except Exception as exc:  # a missing answer only weakens a check made again by the broker
        log.warning("kafka.topic_limit_unknown", topic=topic, error=f"{type(exc).__name__}: {exc}")
        return None


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


class TopicLimits:
    """A topic's :class:`SendLimits` as last read from the broker.

    Read when a producer starts, and again before a refusal is acted on (at most once per
    ``max_age`` seconds): an operator who raised the topic's limit and retried parked
    events must not see them parked again against the old one.
    """

    def __init__(
        self, settings: KafkaConnectionSettings, topic: str, *, max_age: float = 1.0
    ) -> None:
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
