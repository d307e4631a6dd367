"""Start-up check that the broker takes what accessflow may produce.

accessflow bounds every event by ``ACCESSFLOW_MAX_EVENT_BYTES`` and every command by
``ACCESSFLOW_MAX_COMMAND_BYTES`` (docs/security.md, Limits). A record that size, plus its
batch framing, key and headers, must fit both the producer's ``max_request_size`` and the
topic's ``max.message.bytes``; otherwise the first large record would be refused by the
broker forever. Each process checks the topics it writes at start and refuses to start,
naming the topic, the broker's value and the setting, rather than find out later.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.producer import PRODUCER_MAX_REQUEST_BYTES
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger(__name__)

MAX_MESSAGE_BYTES = "max.message.bytes"
#: Record-batch header (61 B), the record's own framing, its key (a request id) and the
#: CloudEvents content-type header, with room to spare: what a record adds to its value.
RECORD_OVERHEAD_BYTES = 1_024
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


def event_budget(settings: Settings) -> Budget:
    return Budget(settings.events_topic, settings.max_event_bytes, "ACCESSFLOW_MAX_EVENT_BYTES")


def command_budget(settings: Settings) -> Budget:
    return Budget(
        settings.commands_topic, settings.max_command_bytes, "ACCESSFLOW_MAX_COMMAND_BYTES"
    )


def problems(budget: Budget, topic_max_bytes: int | None) -> list[str]:
    """Why ``budget`` does not fit the producer or a topic taking ``topic_max_bytes``."""
    found = []
    if budget.record_bytes > PRODUCER_MAX_REQUEST_BYTES:
        found.append(
            f"{budget.setting}={budget.value_bytes} plus {RECORD_OVERHEAD_BYTES} bytes of "
            f"record overhead exceeds the producer's max_request_size "
            f"({PRODUCER_MAX_REQUEST_BYTES}); lower {budget.setting}"
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


async def topic_max_message_bytes(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Each existing topic's ``max.message.bytes`` as the broker reports it (a topic that
    does not exist yet is left out: it is checked once ``topics ensure`` has made it)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, name, {MAX_MESSAGE_BYTES: None})
                for name in topics
            ]
        )
    finally:
        await admin.close()
    found: dict[str, int] = {}
    for response in responses:
        for code, message, _type, name, entries in response.resources:
            if code == _UNKNOWN_TOPIC:
                continue
            if code:
                raise TopicLimitError(f"describing topic {name}: error {code} {message}")
            for key, value, *_ in entries:
                if key == MAX_MESSAGE_BYTES:
                    found[name] = int(value)
    return found


async def check_topic_limits(settings: Settings, budgets: list[Budget]) -> None:
    """Raise :class:`TopicLimitError` naming every budget the broker or producer refuses."""
    limits = await topic_max_message_bytes(settings, [b.topic for b in budgets])
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
