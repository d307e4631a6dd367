"""A command the commands topic will never accept (here: a topic whose max.message.bytes is
smaller than any command) is refused at once: the API answers 413, `accessflow submit` exits
1 with one line; neither retries, and nothing reaches the topic."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from api_support import MEGAN, REQUESTS, SALES, read_topic, sales_body

from accessflow.settings import Settings


@pytest.fixture
async def small_commands_topic(settings: Settings) -> None:
    """Created before ``migrate`` (which leaves existing topics as they are)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        configs = {"max.message.bytes": "512"}
        await admin.create_topics([NewTopic(settings.commands_topic, 1, 1, topic_configs=configs)])
    finally:
        await admin.close()


def _submit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "accessflow.entrypoints.cli", "submit", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)


async def test_a_command_over_the_topic_limit_is_a_413_not_a_503(
    small_commands_topic: None, make_api: Any
) -> None:
    async with make_api() as api:
        response = await api.post(REQUESTS, sales_body(MEGAN), MEGAN)
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["details"][0]["code"] == "PayloadTooLarge"
        assert "Retry-After" not in response.headers
        assert await read_topic(api.settings, api.settings.commands_topic) == []


async def test_submit_says_in_one_line_why_kafka_refused_and_exits_1(
    small_commands_topic: None, prepared: Settings, subprocess_env: dict[str, str]
) -> None:
    result = _submit(subprocess_env, "--requestor", MEGAN, "--access-package", SALES)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: Kafka refused the command: the record is larger than "
        f"{prepared.commands_topic} accepts (MessageSizeTooLargeError)"
    ]
