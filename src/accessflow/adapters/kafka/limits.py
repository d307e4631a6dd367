"""What the broker will accept on a topic, read from its configuration at start."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from accessflow.adapters.kafka.options import client_options
from accessflow.settings import Settings

#: Kafka's default ``max.message.bytes`` (1 MiB plus the 12-byte batch log overhead).
BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588


class TopicLimitsUnavailableError(Exception):
    """The broker answered but would not describe the topic (missing, not authorised)."""


@dataclass(frozen=True, slots=True)
class TopicLimits:
    name: str
    max_message_bytes: int
    compression_type: str  # "producer" keeps what producers sent; "uncompressed" inflates it


async def topic_limits(settings: Settings, topic: str) -> TopicLimits:
    """The topic's ``max.message.bytes`` and ``compression.type`` as the broker has them
    (KafkaError when the broker cannot be reached; TopicLimitsUnavailableError when it
    will not describe the topic, e.g. it does not exist or DescribeConfigs is not allowed)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        wanted = {"max.message.bytes": None, "compression.type": None}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, wanted)]
        )
    finally:
        await admin.close()
    entries: dict[str, str] = {}
    for response in responses:
        for error_code, message, _type, name, configs in response.resources:
            if error_code:
                error = for_code(error_code).__name__
                raise TopicLimitsUnavailableError(f"describing topic {name}: {error} {message}")
            entries.update({entry[0]: entry[1] for entry in configs})
    return TopicLimits(
        topic,
        int(entries.get("max.message.bytes") or BROKER_DEFAULT_MAX_MESSAGE_BYTES),
        entries.get("compression.type") or "producer",
    )
