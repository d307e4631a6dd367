"""Watching the events topic: when each request's ``delivered`` event is first seen, and
the latency percentiles from produce to that moment."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from accessflow.adapters.kafka.reading import assigned_consumer
from accessflow.settings import Settings


class StalledError(RuntimeError):
    """No request was delivered for too long: the phase cannot finish."""


@dataclass(frozen=True)
class Latency:
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency(sent_at: dict[str, float], seen_at: dict[str, float], ids: Collection[str]) -> Latency:
    ordered = sorted((seen_at[rid] - sent_at[rid]) * 1000 for rid in ids if rid in seen_at)
    if not ordered:
        return Latency(0, math.nan, math.nan, math.nan, math.nan)
    return Latency(
        len(ordered),
        round(percentile(ordered, 0.50), 1),
        round(percentile(ordered, 0.95), 1),
        round(percentile(ordered, 0.99), 1),
        round(ordered[-1], 1),
    )


def hops(
    sent_at: dict[str, float], watcher: DeliveryWatcher, ids: Collection[str]
) -> dict[str, Latency]:
    """Where each request's latency went, hop by hop (the three sum to the whole):

    - ``to_decided``: produce → the worker's batch that decided it began (the event's
      ``time``): the wait in Kafka, the consumer's fetch, and the batches ahead of it;
    - ``to_published``: → the relay handed the ``delivered`` event to its producer (the
      record's timestamp): the batch's transaction and commit, and the relay's turn;
    - ``to_seen``: → the bench read it: the broker and the watcher's fetch.

    The first two cross processes on the wall clock (millisecond resolution)."""
    measured = [rid for rid in ids if rid in watcher.stamps and rid in watcher.seen_at]
    decided = {rid: watcher.stamps[rid][0] for rid in measured}
    published = {rid: watcher.stamps[rid][1] for rid in measured}
    return {
        "to_decided": latency(sent_at, decided, measured),
        "to_published": latency(decided, published, measured),
        "to_seen": latency(published, watcher.seen_at, measured),
    }


class DeliveryWatcher:
    """Follows a phase's events topic from its beginning, in the bench's process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.seen_at: dict[str, float] = {}  # request id → when its delivered event arrived
        # request id → (batch decided it, relay published it), on this process's
        # perf_counter scale, from the event's time and the record's timestamp.
        self.stamps: dict[str, tuple[float, float]] = {}
        self._wall_offset = time.time() - time.perf_counter()
        self.events = 0  # every event read, whatever its state
        self._task: asyncio.Task[None] | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> DeliveryWatcher:
        consumer, partitions = await self._stack.enter_async_context(
            assigned_consumer(self._settings, self._settings.events_topic)
        )
        await consumer.seek_to_beginning(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # the seek is lazy; resolve it before any load
        self._task = asyncio.create_task(self._follow(consumer))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stack.aclose()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for records in batch.values():
                self.events += len(records)
                for record in records:
                    # Cheap filter first: most events are not deliveries.
                    if b"delivered" not in record.value:
                        continue
                    event = orjson.loads(record.value)
                    data = event.get("data") or {}
                    if data.get("state") == "delivered":
                        rid = record.key.decode()
                        if rid not in self.seen_at:
                            self.seen_at[rid] = now
                            if "time" in event:  # the raw pipe's events have none
                                self.stamps[rid] = self._stamps(event["time"], record.timestamp)

    def _stamps(self, decided_at: str, timestamp_ms: int) -> tuple[float, float]:
        decided = datetime.fromisoformat(decided_at).timestamp()
        return decided - self._wall_offset, timestamp_ms / 1000 - self._wall_offset

    async def wait_for(
        self,
        ids: Collection[str],
        *,
        stall_seconds: float,
        on_progress: Callable[[int], None] = lambda _: None,
        guard: asyncio.Task[Any] | None = None,
    ) -> None:
        """Return once every request in ``ids`` is delivered; raise :class:`StalledError`
        when none arrives for ``stall_seconds``. A failed ``guard`` task (the load) fails
        the wait at once."""
        pending, total = set(ids), len(set(ids))
        seen_before, last_change = -1, time.perf_counter()
        while True:
            if self._task is not None and self._task.done():
                self._task.result()  # the watcher failed: say why
            if guard is not None and guard.done() and guard.exception() is not None:
                guard.result()
            if len(self.seen_at) != seen_before:
                seen_before, last_change = len(self.seen_at), time.perf_counter()
                pending = {rid for rid in pending if rid not in self.seen_at}
                on_progress(total - len(pending))
            if not pending:
                return
            if time.perf_counter() - last_change > stall_seconds:
                raise StalledError(
                    f"{total - len(pending)} of {total} requests delivered, "
                    f"none for {stall_seconds:.0f} s"
                )
            await asyncio.sleep(0.05)


class Progress:
    """One ``\\r``-rewritten status line on a terminal; silent otherwise (CI logs stay short)."""

    def __init__(self, label: str, total: int) -> None:
        self._label = label
        self._total = total
        self._started = time.perf_counter()
        self._shown = 0.0
        self._tty = sys.stderr.isatty()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if not self._tty or (now - self._shown < 0.25 and done < self._total):
            return
        self._shown = now
        elapsed = now - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        width = 30
        filled = int(width * done / self._total) if self._total else width
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(
            f"\r  {self._label:<22} [{bar}] {done:>9,}/{self._total:,}"
            f"  {rate:>8,.0f}/s  {elapsed:6.1f} s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self._tty:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()
