"""The long-running processes, as ``accessflow worker`` and ``accessflow relay`` run them:
signals, the metrics endpoint, and the runtime (``bootstrap``) they run on."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Iterator

from accessflow import bootstrap
from accessflow.adapters.connectors_config import ConnectorsConfig
from accessflow.entrypoints.observability import Health, Metrics, serve
from accessflow.entrypoints.retry import Stopping
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger("accessflow.worker")


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
            async with bootstrap.Runtime.open(
                settings, bootstrap.WORKER, stop=stop, connectors=connectors
            ) as runtime:
                await bootstrap.serve_worker(
                    runtime, stop, health, metrics, burst=burst, relay=relay
                )
        except Stopping:  # stopped while waiting for the broker or the database
            log.info("worker.stopped", events_published=0)
        finally:
            server.shutdown()


async def run_relay(settings: Settings) -> None:
    tune_gc()
    stop = asyncio.Event()
    with _stop_on_signals(stop):
        try:
            async with bootstrap.Runtime.open(settings, bootstrap.RELAY, stop=stop) as runtime:
                await runtime.relay().run(stop)
        except Stopping:
            return
