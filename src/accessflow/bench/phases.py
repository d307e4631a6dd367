"""The phases of a run. Each one: a fresh schema and topics with a generated catalog, the
processes under test started and settled in their consumer group, the load, and the watcher
on the events topic. Processes are stopped when the phase ends, however it ends."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from accessflow.bench.load import (
    Command,
    create_commands,
    produce_all,
    produce_at_rate,
    started_producer,
)
from accessflow.bench.measure import DeliveryWatcher, Latency, Progress, hops, latency
from accessflow.bench.processes import (
    BASELINE,
    RELAY,
    WORKER,
    Children,
    cpu_by_program,
    machine_cpu_seconds,
)
from accessflow.bench.setup import CatalogTiming, Phase, make_phase, prepare, wal_position
from accessflow.settings import Settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class Options:
    requests: int
    rates: tuple[int, ...]
    workers: int
    partitions: int
    latency_seconds: float
    naive_requests: int
    skip_baselines: bool
    backlog: int  # 0: no backlog phase
    catalog_users: int
    worker_log_level: str
    stall_seconds: float
    profile: Path | None
    # Workers with --no-relay and one `accessflow relay` process publishing for them.
    relay_process: bool = False


@dataclass
class Throughput:
    name: str
    processes: int
    requests: int
    delivered: int
    seconds: float
    requests_per_s: float
    events: int
    events_per_s: float
    latency: Latency | None
    peak_rss_mib: float  # the largest process's high-water mark
    peak_rss_mib_total: float
    cpu_ms_per_request: float  # the processes under test, user + system, during the phase
    wal_kib_per_request: float  # PostgreSQL write-ahead log written during the phase
    # Every process on the machine (Kafka, PostgreSQL, the bench's load and watcher too).
    machine_cpu_ms_per_request: float
    # CPU ms per request of postgresql, kafka, bench (load + watcher) and the machine.
    cpu_breakdown_ms_per_request: dict[str, float]


@dataclass
class RateLatency:
    requested_rate: int
    offered_rate: int
    requests: int
    warmup_requests: int
    delivered: int
    achieved_rate: float
    latency: Latency
    hops: dict[str, Latency]  # the latency split by hop (see measure.hops)


@dataclass
class Runner:
    base: Settings
    options: Options
    tag: str
    logs: Path
    started: list[Children] = field(default_factory=list)

    def _phase(self, name: str) -> Phase:
        return make_phase(
            self.base,
            self.tag,
            name,
            partitions=self.options.partitions,
            log_level=self.options.worker_log_level,
        )

    async def _processes(self, phase: Phase, command: list[str], count: int) -> Children:
        children = Children(self.logs)
        self.started.append(children)
        relay = self.options.relay_process and command is WORKER
        for _ in range(count):
            children.start(phase.name, [*command, "--no-relay"] if relay else command, phase.env)
        if relay:
            children.start(f"{phase.name}-relay", RELAY, phase.env)
        await children.wait_settled(phase.settings, group_members=count)
        return children

    async def throughput(
        self, name: str, command: list[str], processes: int, requests: int, users: int
    ) -> tuple[Throughput, CatalogTiming]:
        """Processes settled first; then N commands as fast as the producer takes them;
        timed from the first command produced to the last ``delivered`` event read."""
        phase = self._phase(name)
        timing = await prepare(phase, users)
        commands = create_commands(requests)
        ids = [c.request_id for c in commands]
        children = await self._processes(phase, command, processes)
        try:
            if self.options.profile is not None and name == "worker":
                children.profile(self.options.profile, f"{name}-{self.tag}")
            producer = await started_producer(phase.settings)
            cpu_before = children.cpu_seconds()
            machine_before = machine_cpu_seconds()
            programs_before = cpu_by_program()
            wal_before = await wal_position(phase.settings)
            try:
                async with DeliveryWatcher(phase.settings) as watcher:
                    sent_at: dict[str, float] = {}
                    progress = Progress(f"{name}: delivered", requests)
                    load = asyncio.create_task(
                        produce_all(producer, phase.settings.commands_topic, commands, sent_at)
                    )
                    try:
                        await watcher.wait_for(
                            ids,
                            stall_seconds=self.options.stall_seconds,
                            on_progress=progress.update,
                            guard=load,
                        )
                        first = await load
                    finally:
                        load.cancel()
                        progress.close()
                    events = watcher.events
                    end = max(watcher.seen_at[rid] for rid in ids)
                    measured = latency(sent_at, watcher.seen_at, ids)
            finally:
                await producer.stop()
            rss = children.peak_rss_bytes()
            cpu = children.cpu_seconds() - cpu_before
            machine_cpu = machine_cpu_seconds() - machine_before
            programs = _per_request(programs_before, cpu_by_program(), requests)
            wal = await wal_position(phase.settings) - wal_before
        finally:
            await children.stop()
        seconds = end - first
        result = Throughput(
            name,
            processes,
            requests,
            len(ids),
            round(seconds, 3),
            round(requests / seconds, 1),
            events,
            round(events / seconds, 1),
            measured,
            round(max(rss) / MIB, 1),
            round(sum(rss) / MIB, 1),
            round(cpu * 1000 / requests, 3),
            round(wal / 1024 / requests, 2),
            round(machine_cpu * 1000 / requests, 3),
            programs,
        )
        return result, timing

    async def latency(self, rates: list[tuple[int, int]]) -> list[RateLatency]:
        """The worker at fixed offered rates ``(requested, offered)``, one after the other,
        each with its own requests (the first second of each is warm-up, not counted)."""
        counts = [
            min(self.options.requests, max(1, int(rate * self.options.latency_seconds)))
            for _, rate in rates
        ]
        phase = self._phase("latency")
        await prepare(phase, sum(counts))
        children = await self._processes(phase, WORKER, self.options.workers)
        results = []
        try:
            producer = await started_producer(phase.settings)
            try:
                async with DeliveryWatcher(phase.settings) as watcher:
                    first_user = 0
                    for (requested, rate), count in zip(rates, counts, strict=True):
                        commands = create_commands(count, first_user=first_user)
                        first_user += count
                        results.append(
                            await self._one_rate(
                                phase, producer, watcher, commands, requested, rate
                            )
                        )
            finally:
                await producer.stop()
        finally:
            await children.stop()
        return results

    async def _one_rate(
        self,
        phase: Phase,
        producer: AIOKafkaProducer,
        watcher: DeliveryWatcher,
        commands: list[Command],
        requested: int,
        rate: int,
    ) -> RateLatency:
        ids = [c.request_id for c in commands]
        sent_at: dict[str, float] = {}
        progress = Progress(f"latency @ {rate}/s", len(ids))
        load = asyncio.create_task(
            produce_at_rate(producer, phase.settings.commands_topic, commands, rate, sent_at)
        )
        try:
            await watcher.wait_for(
                ids,
                stall_seconds=self.options.stall_seconds,
                on_progress=progress.update,
                guard=load,
            )
            first = await load
        finally:
            load.cancel()
            progress.close()
        warmup = min(rate, len(ids) // 10)
        end = max(watcher.seen_at[rid] for rid in ids)
        return RateLatency(
            requested,
            rate,
            len(ids),
            warmup,
            len(ids),
            round(len(ids) / (end - first), 1),
            latency(sent_at, watcher.seen_at, ids[warmup:]),
            hops(sent_at, watcher, ids[warmup:]),
        )

    async def backlog(self, requests: int) -> Throughput:
        """A backlog produced before the workers start: their memory must stay bounded while
        they drain it; timed from the workers' start to the last ``delivered`` event."""
        phase = self._phase("backlog")
        await prepare(phase, requests)
        commands = create_commands(requests)
        ids = [c.request_id for c in commands]
        producer = await started_producer(phase.settings)
        try:
            progress = Progress("backlog: produced", requests)
            await produce_all(
                producer, phase.settings.commands_topic, commands, {}, on_sent=progress.update
            )
            progress.close()
        finally:
            await producer.stop()
        async with DeliveryWatcher(phase.settings) as watcher:
            wal_before = await wal_position(phase.settings)
            machine_before = machine_cpu_seconds()
            programs_before = cpu_by_program()
            first = time.perf_counter()
            children = await self._processes(phase, WORKER, self.options.workers)
            try:
                progress = Progress("backlog: delivered", requests)
                try:
                    await watcher.wait_for(
                        ids, stall_seconds=self.options.stall_seconds, on_progress=progress.update
                    )
                finally:
                    progress.close()
                rss = children.peak_rss_bytes()
                cpu = children.cpu_seconds()
                machine_cpu = machine_cpu_seconds() - machine_before
                programs = _per_request(programs_before, cpu_by_program(), requests)
                wal = await wal_position(phase.settings) - wal_before
            finally:
                await children.stop()
            end = max(watcher.seen_at[rid] for rid in ids)
            events = watcher.events
        seconds = end - first
        return Throughput(
            "backlog",
            self.options.workers,
            requests,
            len(ids),
            round(seconds, 3),
            round(requests / seconds, 1),
            events,
            round(events / seconds, 1),
            None,
            round(max(rss) / MIB, 1),
            round(sum(rss) / MIB, 1),
            round(cpu * 1000 / requests, 3),
            round(wal / 1024 / requests, 2),
            round(machine_cpu * 1000 / requests, 3),
            programs,
        )


def _per_request(
    before: dict[str, float], after: dict[str, float], requests: int
) -> dict[str, float]:
    return {k: round((after[k] - before[k]) * 1000 / requests, 3) for k in after}


__all__ = ["BASELINE", "WORKER", "Options", "RateLatency", "Runner", "Throughput"]
