"""A command the commands topic will never accept (here: a topic whose max.message.bytes is
smaller than any command) is refused at once: the API, started before an operator lowered
the limit, answers 413; `accessflow submit`, which checks the limit as it starts, exits 1
with one line; neither retries, and nothing reaches the topic."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from api_support import MEGAN, REQUESTS, SALES, read_topic, sales_body
from polling import eventually

from accessflow.adapters.kafka.limits import describe_max_message_bytes
from accessflow.settings import Settings


async def _lower_limit(settings: Settings) -> None:
    """An operator sets the commands topic's max.message.bytes below any command."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        configs = {"max.message.bytes": "512"}
        resource = ConfigResource(ConfigResourceType.TOPIC, settings.commands_topic, configs)
        await admin.alter_configs([resource])
    finally:
        await admin.close()
    await eventually_lowered(settings)


async def eventually_lowered(settings: Settings) -> None:
    """The broker applies a config change asynchronously: wait until it says so."""

    async def lowered() -> bool:
        limits = await describe_max_message_bytes(settings, [settings.commands_topic])
        return limits.get(settings.commands_topic) == 512

    await eventually(lowered, seconds=10, what="the broker to take max.message.bytes=512")
    await asyncio.sleep(0.5)  # described by the controller, then applied by the log


def _submit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "accessflow.entrypoints.cli", "submit", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)


async def test_a_command_over_the_topic_limit_is_a_413_not_a_503(make_api: Any) -> None:
    async with make_api() as api:
        await _lower_limit(api.settings)
        response = await api.post(REQUESTS, sales_body(MEGAN), MEGAN)
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["details"][0]["code"] == "PayloadTooLarge"
        assert "Retry-After" not in response.headers
        assert await read_topic(api.settings, api.settings.commands_topic) == []


async def test_submit_says_in_one_line_why_kafka_would_refuse_and_exits_1(
    prepared: Settings, subprocess_env: dict[str, str]
) -> None:
    await _lower_limit(prepared)
    result = _submit(subprocess_env, "--requestor", MEGAN, "--access-package", SALES)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"Error: topic {prepared.commands_topic} has max.message.bytes=512, below "
        "ACCESSFLOW_MAX_COMMAND_BYTES=1000000"
    )
    assert await read_topic(prepared, prepared.commands_topic) == []
