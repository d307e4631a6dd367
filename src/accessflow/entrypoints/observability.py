"""Prometheus metrics and the /healthz, /readyz and /metrics endpoints of a worker process.

The HTTP server is prometheus_client's WSGI app on a daemon thread, with two extra routes;
it reads plain attributes of :class:`Health`, which the event loop writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass
class Health:
    """What the worker loop last managed to do, by monotonic clock."""

    stuck_after_seconds: float = 120.0
    started: float = field(default_factory=time.monotonic)
    last_poll: float | None = None
    last_commit: float | None = None
    kafka_connected: bool = False
    database_ok: bool = False
    assigned_partitions: int = 0
    stopping: bool = False

    def alive(self) -> bool:
        last = self.last_poll if self.last_poll is not None else self.started
        return time.monotonic() - last < self.stuck_after_seconds

    def ready(self) -> bool:
        return (
            not self.stopping
            and self.kafka_connected
            and self.database_ok
            and self.assigned_partitions > 0
        )

    def age(self, moment: float | None) -> float:
        return time.monotonic() - (moment if moment is not None else self.started)


class Metrics:
    """Every metric a worker exports, on a registry of its own (tests make many)."""

    def __init__(self, health: Health, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.commands = Counter(
            "accessflow_commands",
            "Commands handled, by type and outcome",
            ["type", "outcome"],
            registry=r,
        )
        self.transitions = Counter(
            "accessflow_transitions", "State transitions, by state entered", ["state"], registry=r
        )
        self.latency = Histogram(
            "accessflow_command_latency_seconds",
            "From the command's Kafka timestamp to its effect's commit",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.lag = Gauge(
            "accessflow_consumer_lag",
            "Records behind the log end, by partition",
            ["partition"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "accessflow_outbox_backlog", "Committed events not yet published", registry=r
        )
        self.outbox_oldest_age = Gauge(
            "accessflow_outbox_oldest_age_seconds",
            "Age of the oldest unpublished event",
            registry=r,
        )
        self.grant_calls = Counter(
            "accessflow_grant_calls",
            "Connector rounds of outside grants and revokes, by origin system and result",
            ["origin_system", "outcome"],
            registry=r,
        )
        self.grants_due = Gauge(
            "accessflow_grants_due",
            "Outside grants and revokes due now and not yet sent (a growing figure: the "
            "delivery loop is behind or a receiver is down)",
            registry=r,
        )
        self.grants_oldest_due_age = Gauge(
            "accessflow_grants_oldest_due_age_seconds",
            "How long the longest-waiting due grant has been due",
            registry=r,
        )
        self.dead_lettered = Counter(
            "accessflow_dead_lettered",
            "Records sent to the DLQ, by error code",
            ["code"],
            registry=r,
        )
        # Counter and gauge need two names: the counter's own (without _total) is taken.
        self.events_parked = Counter(
            "accessflow_events_parked",
            "Events moved from the outbox to parked_events because the events topic will "
            "never accept them (reason: MessageTooLarge, InvalidRecord) or an earlier event "
            "of their request is parked (BehindParked)",
            ["reason"],
            registry=r,
        )
        self.parked_events = Gauge(
            "accessflow_parked_events",
            "Events parked now, waiting for `accessflow outbox parked retry` or `drop`",
            registry=r,
        )
        self.dead_letter_references = Counter(
            "accessflow_dead_letter_references",
            "Dead letters written as a reference because the record could not fit the DLQ",
            ["code"],
            registry=r,
        )
        self.dead_letters_failed = Counter(
            "accessflow_dead_letters_failed",
            "DLQ writes the broker refused for good (each is then tried as a reference)",
            ["code"],
            registry=r,
        )
        self.rows_pruned = Counter(
            "accessflow_rows_pruned",
            "Rows the housekeeping loop deleted once past their retention, by table",
            ["table"],
            registry=r,
        )
        Gauge(
            "accessflow_last_poll_age_seconds",
            "Seconds since the last successful poll",
            registry=r,
        ).set_function(lambda: health.age(health.last_poll))
        Gauge(
            "accessflow_last_commit_age_seconds",
            "Seconds since the last offset commit",
            registry=r,
        ).set_function(lambda: health.age(health.last_commit))
        # /readyz as a series, so an alert can say which worker is not ready and since when.
        Gauge(
            "accessflow_ready",
            "1 while /readyz answers 200 (Kafka and PostgreSQL reachable, partitions assigned)",
            registry=r,
        ).set_function(lambda: 1.0 if health.ready() else 0.0)
        Gauge(
            "accessflow_assigned_partitions",
            "Partitions of the commands topic this worker owns",
            registry=r,
        ).set_function(lambda: health.assigned_partitions)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would drown the canonical log lines."""


def serve(port: int, health: Health, metrics: Metrics, host: str = "127.0.0.1") -> WSGIServer:
    """Start the endpoints on ``host``:``port`` (0 picks a free port); returns the server."""
    metrics_app = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            ok = health.alive() if path == "/healthz" else health.ready()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
            )
            return [b"ok\n" if ok else b"not ok\n"]
        result: Iterable[bytes] = metrics_app(environ, start_response)
        return result

    server = make_server(host, port, app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
