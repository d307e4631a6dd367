"""The load: wire-contract create commands, produced as fast as the producer can or at a
fixed rate, with the moment each one was handed to the producer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer

from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS, make_producer
from accessflow.bench.setup import PACKAGE, POLICY, user_id
from accessflow.service.commands import create_command
from accessflow.settings import Settings

CHUNK = 5_000  # sends in flight before awaiting them together: bounds the bench's memory
TICK = 0.005  # the fixed-rate producer tops up every 5 ms


@dataclass(frozen=True, slots=True)
class Command:
    request_id: str
    key: bytes
    value: bytes


def create_commands(count: int, *, first_user: int = 0) -> list[Command]:
    """``count`` create commands; command i is user ``first_user + i`` asking for the bench
    package for themselves (auto-approved, so each one ends ``delivered``)."""
    commands = []
    for n in range(first_user, first_user + count):
        rid = str(uuid.uuid4())
        target = user_id(n)
        body = {
            "requestType": "userAdd",
            "justification": "bench",
            "assignment": {
                "accessPackageId": PACKAGE,
                "assignmentPolicyId": POLICY,
                "targetId": target,
            },
        }
        document = create_command(target, body, source="urn:accessflow:bench", request_id=rid)
        commands.append(Command(rid, rid.encode(), orjson.dumps(document)))
    return commands


async def started_producer(settings: Settings) -> AIOKafkaProducer:
    producer = make_producer(settings, linger_ms=5)
    await producer.start()
    return producer


async def produce_all(
    producer: AIOKafkaProducer,
    topic: str,
    commands: list[Command],
    sent_at: dict[str, float],
    on_sent: Callable[[int], None] = lambda _: None,
) -> float:
    """Send everything as fast as the producer takes it, ``CHUNK`` at a time, then await
    the chunk's acknowledgements together. Returns when the first send happened."""
    first = time.perf_counter()
    for start in range(0, len(commands), CHUNK):
        futures = []
        for command in commands[start : start + CHUNK]:
            sent_at[command.request_id] = time.perf_counter()
            futures.append(
                await producer.send(
                    topic, command.value, key=command.key, headers=CLOUDEVENTS_HEADERS
                )
            )
        await asyncio.gather(*futures)
        on_sent(min(start + CHUNK, len(commands)))
    return first


async def produce_at_rate(
    producer: AIOKafkaProducer,
    topic: str,
    commands: list[Command],
    rate: float,
    sent_at: dict[str, float],
) -> float:
    """Offer ``rate`` commands per second, evenly: every tick, send what the schedule says
    is due by now (so a late tick catches up rather than lowering the rate)."""
    futures: list[asyncio.Future[object]] = []
    first = time.perf_counter()
    sent = 0
    while sent < len(commands):
        due = min(len(commands), int((time.perf_counter() - first) * rate) + 1)
        while sent < due:
            command = commands[sent]
            sent_at[command.request_id] = time.perf_counter()
            futures.append(
                await producer.send(
                    topic, command.value, key=command.key, headers=CLOUDEVENTS_HEADERS
                )
            )
            sent += 1
        if len(futures) >= CHUNK:
            for done in [f for f in futures if f.done()]:
                done.result()  # a failed send fails the run
            futures = [f for f in futures if not f.done()]
        await asyncio.sleep(TICK)
    await asyncio.gather(*futures)
    return first
