"""The composition root: settings are read once here and everything else is built from them.

:meth:`Runtime.open` builds what a process needs (the limits check, the database pool, the
HTTP client and connectors; the broker clients, unstarted) in order on an
``AsyncExitStack`` and closes it in reverse; :func:`serve_worker` wires the worker's loops
from a runtime and runs them under :func:`supervise`. ``accessflow worker``, ``relay``,
``api`` and ``run`` all go through here, and the unit tests build a :class:`Runtime` of
in-memory adapters (broker, store, outbox) and run the same wiring. Nothing creates a client
at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Flag, auto
from typing import TypeVar

import asyncpg
import httpx

from accessflow.adapters.connectors_config import ConnectorsConfig, load_connectors_config
from accessflow.adapters.kafka.clients import KafkaConsumer, KafkaProducers, KafkaRecordSender
from accessflow.adapters.kafka.limits import check_topic_limits, event_budget
from accessflow.adapters.kafka.topics import TopicState, ensure_topics
from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.migrate import Migration, migrate
from accessflow.adapters.postgres.relay_outbox import PgOutbox
from accessflow.adapters.postgres.retention import Pruner, Retention
from accessflow.adapters.postgres.store import PgUnitOfWork
from accessflow.adapters.webhook import connectors_from_config
from accessflow.entrypoints.batch_processing import CommandProcessor
from accessflow.entrypoints.delivery_loop import DeliveryLoop
from accessflow.entrypoints.housekeeping import HousekeepingLoop
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.entrypoints.outbox_watch import watch_outbox
from accessflow.entrypoints.relay import OutboxRelay
from accessflow.entrypoints.retry import retry_transient
from accessflow.entrypoints.supervise import Loop, supervise
from accessflow.entrypoints.timers import TimerLoop
from accessflow.entrypoints.worker import Worker
from accessflow.logs import configure_logging, get_logger
from accessflow.service.broker import Consumer, ProducerFactory, RecordSender
from accessflow.service.connectors import Connector
from accessflow.service.delivery_rounds import RetryPolicy
from accessflow.service.ports import UnitOfWork
from accessflow.service.publishing import Outbox
from accessflow.settings import Settings, SettingsError, load_settings
from accessflow.tracing import configure_tracing

log = get_logger("accessflow.worker")
T = TypeVar("T")


def start(**overrides: object) -> Settings:
    """Read the settings once, configure logging and tracing; raises SettingsError when
    invalid."""
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("accessflow")  # off unless OTEL_* asks (OTEL_SERVICE_NAME names it)
    return settings


@dataclass(frozen=True, slots=True)
class MigrateResult:
    applied: list[Migration]
    topics: list[TopicState]


async def migrate_all(settings: Settings, *, topics: bool = True) -> MigrateResult:
    """Apply pending database migrations and (optionally) ensure the Kafka topics."""
    conn = await pool.connect(settings)
    try:
        applied = await migrate(conn, settings.database_schema)
    finally:
        await conn.close()
    ensured = await ensure_topics(settings) if topics else []
    return MigrateResult(applied, ensured)


def connectors_config(settings: Settings) -> ConnectorsConfig:
    """The connectors file named by ``ACCESSFLOW_CONNECTORS_FILE`` (only the built-in
    directory without one). Raises ConnectorsConfigError naming the file and each faulty
    entry, or SettingsError when the delivery lease is shorter than a connector's call."""
    if settings.connectors_file is None:
        return ConnectorsConfig()
    config = load_connectors_config(settings.connectors_file)
    longest = config.longest_call_seconds()
    if settings.delivery_lease_seconds <= longest:
        raise SettingsError(
            f"ACCESSFLOW_DELIVERY_LEASE_SECONDS ({settings.delivery_lease_seconds:g}) must be "
            f"longer than the longest connector call in {settings.connectors_file} "
            f"({longest:g} s: maxElapsedSeconds + timeoutSeconds), or a call still running "
            "would be claimed again by another worker"
        )
    return config


def delivery_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_rounds=settings.delivery_max_rounds,
        initial=timedelta(seconds=settings.delivery_retry_initial_seconds),
        maximum=timedelta(seconds=settings.delivery_retry_max_seconds),
        lease=timedelta(seconds=settings.delivery_lease_seconds),
    )


def retention(settings: Settings) -> Retention:
    return Retention(
        processed=timedelta(days=settings.processed_retention_days),
        idempotency=timedelta(hours=settings.idempotency_retention_hours),
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


class Need(Flag):
    """What a process needs built before it runs."""

    EVENTS = auto()  # the events topic must take the largest event (checked, waited for)
    DATABASE = auto()  # the asyncpg pool and the unit of work on it
    CONNECTORS = auto()  # one HTTP client for every webhook, and the connectors on it


WORKER = Need.EVENTS | Need.DATABASE | Need.CONNECTORS
RELAY = Need.EVENTS
API = Need.DATABASE  # the command producer starts lazily (api/publisher.py)


@dataclass
class Runtime:
    """A process's adapters behind their ports. Broker clients are built unstarted: the loop
    that uses one starts it and waits out a broker that is away."""

    settings: Settings
    outbox: Outbox
    producers: ProducerFactory
    consumer: Callable[[], Consumer]
    dead_letters: Callable[[], RecordSender]
    uow: UnitOfWork | None = None
    connector: Connector | None = None
    pool: asyncpg.Pool | None = None  # PostgreSQL's own: outbox metrics, housekeeping, API

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        needs: Need,
        *,
        stop: asyncio.Event | None = None,
        connectors: ConnectorsConfig | None = None,
        db: asyncpg.Pool | None = None,
    ) -> AsyncIterator[Runtime]:
        """Kafka and PostgreSQL adapters for ``needs``. With ``stop``, an unreachable broker
        or database is waited for (:class:`Stopping` once ``stop`` is set); without, it
        raises. A ``db`` handed in is used, not closed."""
        runtime = cls(
            settings,
            outbox=PgOutbox(settings),
            producers=producers(settings),
            consumer=lambda: KafkaConsumer.for_commands(settings),
            dead_letters=lambda: KafkaRecordSender(settings),
        )
        async with AsyncExitStack() as stack:
            if Need.EVENTS in needs:
                limits = [event_budget(settings)]
                await _waiting(
                    lambda: check_topic_limits(settings, limits), "kafka.check_limits", stop
                )
            if Need.DATABASE in needs:
                if db is None:
                    db = await _waiting(
                        lambda: pool.create_pool(settings), "database.connect", stop
                    )
                    stack.push_async_callback(db.close)
                runtime.pool, runtime.uow = db, PgUnitOfWork(db)
            if Need.CONNECTORS in needs:
                client = await stack.enter_async_context(httpx.AsyncClient())
                runtime.connector = connectors_from_config(connectors or ConnectorsConfig(), client)
            yield runtime

    def relay(self, metrics: Metrics | None = None, *, poll_interval: float = 1.0) -> OutboxRelay:
        topic = self.settings.events_topic
        return OutboxRelay(
            self.outbox, self.producers, topic, metrics=metrics, poll_interval=poll_interval
        )


def producers(settings: Settings) -> ProducerFactory:
    """Keyed producers on the configured broker (the relay's, the demo's)."""
    return KafkaProducers(settings)


async def _waiting(make: Callable[[], Awaitable[T]], what: str, stop: asyncio.Event | None) -> T:
    if stop is None:
        return await make()
    return await retry_transient(make, what=what, stop=stop)


async def serve_worker(
    runtime: Runtime,
    stop: asyncio.Event,
    health: Health,
    metrics: Metrics,
    *,
    burst: bool = False,
    relay: bool = True,
) -> None:
    """Consume commands, fire timers, deliver grants and publish events until ``stop`` (or,
    in burst mode, until the commands are read to their end and what is due is done)."""
    settings = runtime.settings
    if runtime.uow is None or runtime.connector is None:
        raise ValueError("a worker needs a unit of work and connectors (Need.WORKER)")
    publisher = runtime.relay(metrics)
    uow = runtime.uow
    sender = DeliveryLoop(
        uow,
        runtime.connector,
        utc_now,
        delivery_policy(settings),
        publisher.wake,
        concurrency=settings.delivery_concurrency,
        metrics=metrics,
    )
    processor = CommandProcessor(
        uow,
        metrics,
        utc_now,
        max_command_bytes=settings.max_command_bytes,
        reprocess_window=timedelta(days=settings.reprocess_window_days),
        on_waiting_grants=sender.wake,
    )

    def fired() -> None:  # a timer's effect may write events and waiting grants
        publisher.wake()
        sender.wake()

    worker = Worker(
        settings,
        processor,
        health,
        metrics,
        publisher.wake,
        consumer=runtime.consumer(),
        dead_letters=runtime.dead_letters(),
        burst=burst,
    )
    timers = TimerLoop(uow, utc_now, fired)

    async def consume(stop: asyncio.Event) -> None:
        await worker.run(stop)
        if burst:  # a burst run also does what is already due before it exits
            await timers.fire_due()
            await sender.drain()

    loops = [Loop("consumer", consume)]
    if runtime.pool is not None:
        db = runtime.pool
        loops.append(Loop("outbox-watch", lambda stop: watch_outbox(db, health, metrics, stop)))
    if not burst:
        loops += [Loop("timers", timers.run), Loop("deliveries", sender.run)]
        if runtime.pool is not None:
            prune = Pruner(runtime.pool, retention(settings)).prune
            interval = settings.housekeeping_interval_seconds
            housekeeping = HousekeepingLoop(prune, utc_now, metrics, interval_seconds=interval)
            loops.append(Loop("housekeeping", housekeeping.run))
    try:
        # The relay goes last: it drains what the other loops committed on their way out.
        await supervise(loops, stop, last=Loop("relay", publisher.run) if relay else None)
    finally:
        log.info("worker.stopped", events_published=publisher.published_total)
