"""The long-running processes, as ``accessflow worker`` and ``accessflow relay`` run them:
signals, lifetimes (started in order, stopped in reverse), and the metrics endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from accessflow import bootstrap
from accessflow.adapters.connectors_config import ConnectorsConfig
from accessflow.adapters.kafka.limits import check_topic_limits, event_budget
from accessflow.adapters.postgres import outbox, pool
from accessflow.adapters.postgres.retention import Pruner
from accessflow.adapters.postgres.store import PgUnitOfWork, due_grant_stats
from accessflow.adapters.webhook import connectors_from_config
from accessflow.entrypoints.deliveries import DeliveryLoop
from accessflow.entrypoints.housekeeping import HousekeepingLoop
from accessflow.entrypoints.observability import Health, Metrics, serve
from accessflow.entrypoints.processing import CommandProcessor
from accessflow.entrypoints.relay import OutboxRelay
from accessflow.entrypoints.retry import Stopping, retry_transient
from accessflow.entrypoints.supervise import Loop, supervise
from accessflow.entrypoints.timers import TimerLoop
from accessflow.entrypoints.worker import Worker
from accessflow.logs import get_logger
from accessflow.service.connectors import Connector
from accessflow.settings import Settings

log = get_logger("accessflow.worker")


def utc_now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stopper(stop, sig))
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


#: Allocations between young-generation collections (CPython's default is 700). A batch
#: allocates tens of thousands of short-lived objects (models, dicts, documents) that
#: reference counting frees anyway; at the default the collector ran every few hundred of
#: them and walked the survivors each time (12–18 % of deciding a create, measured).
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Fewer, cheaper cyclic-GC passes for a process that is about to run for a long time:
    everything alive now (modules, pydantic schemas, settings) moves to the permanent
    generation, which no collection walks again, and young collections run less often.
    Cycles are still collected; memory stays bounded by the same threshold."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _stopper(stop: asyncio.Event, sig: signal.Signals) -> Callable[[], None]:
    def handler() -> None:
        log.info("worker.stopping", signal=sig.name)
        stop.set()

    return handler


async def run_worker(
    settings: Settings,
    connectors: ConnectorsConfig | None = None,
    *,
    burst: bool = False,
    relay: bool = True,
) -> None:
    """Consume commands until SIGTERM/SIGINT (or, in burst mode, until caught up), and
    deliver waiting grants through ``connectors`` (the built-in directory only by default)."""
    tune_gc()
    stop = asyncio.Event()
    health = Health()
    metrics = Metrics(health)
    server = serve(settings.metrics_port, health, metrics, host=settings.metrics_host)
    log.info(
        "worker.starting",
        metrics_host=settings.metrics_host,
        metrics_port=server.server_port,
        group=settings.consumer_group_id,
        topic=settings.commands_topic,
    )
    # Signals are ours from the start: a SIGTERM while the database is still unreachable
    # ends the wait for it cleanly instead of killing the process mid-start.
    with _stop_on_signals(stop):
        try:
            await check_event_limits(settings, stop)
            db = await retry_transient(
                lambda: pool.create_pool(settings), what="database.connect", stop=stop
            )
        except Stopping:
            server.shutdown()
            log.info("worker.stopped", events_published=0)
            return
        except BaseException:  # e.g. TopicLimitError: the process is refusing to start
            server.shutdown()
            raise
        try:
            async with httpx.AsyncClient() as client:  # one connection pool for all webhooks
                registry = connectors_from_config(connectors or ConnectorsConfig(), client)
                await _serve_commands(
                    settings, db, registry, stop, health, metrics, burst=burst, relay=relay
                )
        finally:
            await db.close()
            server.shutdown()


async def _serve_commands(
    settings: Settings,
    db: asyncpg.Pool,
    connector: Connector,
    stop: asyncio.Event,
    health: Health,
    metrics: Metrics,
    *,
    burst: bool,
    relay: bool,
) -> None:
    publisher = OutboxRelay(settings, metrics=metrics)

    async def watch(stop: asyncio.Event) -> None:
        await _watch_outbox(db, health, metrics, stop)

    uow = PgUnitOfWork(db)
    sender = DeliveryLoop(
        uow,
        connector,
        utc_now,
        bootstrap.delivery_policy(settings),
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

    worker = Worker(settings, processor, health, metrics, publisher.wake, burst=burst)
    timers = TimerLoop(uow, utc_now, fired)
    housekeeping = HousekeepingLoop(
        Pruner(db, bootstrap.retention(settings)).prune,
        utc_now,
        metrics,
        interval_seconds=settings.housekeeping_interval_seconds,
    )

    async def consume(stop: asyncio.Event) -> None:
        await worker.run(stop)
        if burst:  # a burst run also does what is already due before it exits
            await timers.fire_due()
            await sender.drain()

    loops = [Loop("consumer", consume), Loop("outbox-watch", watch)]
    if not burst:
        loops += [
            Loop("timers", timers.run),
            Loop("deliveries", sender.run),
            Loop("housekeeping", housekeeping.run),
        ]
    try:
        # The relay goes last: it drains what the other loops committed on their way out.
        await supervise(loops, stop, last=Loop("relay", publisher.run) if relay else None)
    finally:
        log.info("worker.stopped", events_published=publisher.published_total)


async def run_relay(settings: Settings) -> None:
    tune_gc()
    stop = asyncio.Event()
    publisher = OutboxRelay(settings)
    with _stop_on_signals(stop):
        try:
            await check_event_limits(settings, stop)
        except Stopping:
            return
        await publisher.run(stop)


async def check_event_limits(settings: Settings, stop: asyncio.Event) -> None:
    """The events topic must take the largest event the budget allows, or nothing starts
    (TopicLimitError); a broker that is away is waited for."""
    await retry_transient(
        lambda: check_topic_limits(settings, [event_budget(settings)]),
        what="kafka.check_limits",
        stop=stop,
    )


async def _watch_outbox(
    db: asyncpg.Pool, health: Health, metrics: Metrics, stop: asyncio.Event
) -> None:
    """Outbox backlog and age for the metrics, and the database half of readiness."""
    while not stop.is_set():
        try:
            async with db.acquire() as conn:
                stats = await outbox.stats(conn)
                due, age = await due_grant_stats(conn, utc_now())
            metrics.outbox_backlog.set(stats.backlog)
            metrics.outbox_oldest_age.set(stats.oldest_age_seconds)
            metrics.parked_events.set(stats.parked)
            metrics.grants_due.set(due)
            metrics.grants_oldest_due_age.set(age)
            health.database_ok = True
        except Exception as exc:
            health.database_ok = False
            log.warning("outbox.stats_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=5)
