"""Create accessflow's three topics (commands, events, DLQ), idempotently."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.options import client_options
from accessflow.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    partitions: int
    created: bool


#: Per-topic settings accessflow creates topics with. The commands topic stores records
#: uncompressed: the broker then refuses a compressed batch whose records, inflated, exceed
#: max.message.bytes, so no command can inflate in the worker's memory past that bound
#: (docs/operations.md, Memory bounds of a fetch).
def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    return {settings.commands_topic: {"compression.type": "uncompressed"}}


def topic_names(settings: Settings) -> list[str]:
    return [settings.commands_topic, settings.events_topic, settings.dlq_topic]


async def ensure_topics(settings: Settings) -> list[TopicState]:
    """Create any missing topic with the configured partitions; report each topic's state.

    Existing topics are left as they are (their partition count is reported, never changed:
    adding partitions to a keyed topic would move requests between partitions).
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    await start_client(admin, settings)
    try:
        wanted = topic_names(settings)
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            configs = topic_configs(settings)
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=settings.topic_partitions,
                        replication_factor=settings.topic_replication_factor,
                        topic_configs=configs.get(name),
                    )
                    for name in missing
                ]
            )
            _raise_topic_errors(response.topic_errors)
        described = await admin.describe_topics(wanted)
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        return [TopicState(name, partitions.get(name, 0), name in missing) for name in wanted]
    finally:
        await admin.close()


def _raise_topic_errors(topic_errors: list[tuple[object, ...]]) -> None:
    # The admin client reports per-topic errors in the response instead of raising.
    for topic, code, *rest in topic_errors:
        error = for_code(int(code))  # type: ignore[call-overload]
        # Another process created it between our list and create: that is success.
        if code and error is not TopicAlreadyExistsError:
            message = rest[0] if rest else ""
            raise error(f"creating topic {topic}: {message}")


async def topic_compression_type(settings: Settings, topic: str) -> str | None:
    """The topic's ``compression.type`` (``producer`` keeps what producers sent); None when
    the broker does not say (no DescribeConfigs permission, no such topic, unreachable)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        wanted = ConfigResource(ConfigResourceType.TOPIC, topic, {"compression.type": None})
        for response in await admin.describe_configs([wanted]):
            for error_code, _message, _type, _name, entries in response.resources:
                for name, value, *_ in entries if not error_code else []:
                    if name == "compression.type":
                        return str(value)
    except KafkaError:
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return None
