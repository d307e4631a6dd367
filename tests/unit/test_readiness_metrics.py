"""The readiness series mirror /readyz, so alerts and /readyz cannot disagree."""

from __future__ import annotations

from prometheus_client import generate_latest

from accessflow.entrypoints.observability import Health, Metrics


def _value(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name)


def test_ready_gauge_follows_health_ready() -> None:
    health = Health()
    metrics = Metrics(health)
    assert _value(metrics, "accessflow_ready") == 0.0
    assert _value(metrics, "accessflow_assigned_partitions") == 0.0

    health.kafka_connected = health.database_ok = True
    health.assigned_partitions = 3
    assert health.ready()
    assert _value(metrics, "accessflow_ready") == 1.0
    assert _value(metrics, "accessflow_assigned_partitions") == 3.0

    health.stopping = True
    assert _value(metrics, "accessflow_ready") == 0.0


def test_readiness_series_are_in_the_exposition() -> None:
    text = generate_latest(Metrics(Health()).registry).decode()
    assert "# TYPE accessflow_ready gauge" in text
    assert "# TYPE accessflow_assigned_partitions gauge" in text
