"""What operators see of a running worker: /healthz, /readyz, /metrics and the log lines."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request

from polling import eventually
from prometheus_client.parser import text_string_to_metric_families


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


async def _wait_for(condition, seconds: float = 30.0) -> None:
    await eventually(lambda: asyncio.to_thread(condition), seconds=seconds)


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample, parsed by prometheus_client's own exposition parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"{name} {labels} not exported")


async def test_health_readiness_and_metrics_of_a_running_worker(e2e) -> None:
    """/healthz answers 200 while the loop runs, /readyz once partitions are assigned, and
    /metrics counts the commands, transitions, dead letters and the outbox backlog."""
    e2e.prepare(e2e.catalog(5))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    worker = e2e.start_worker(env={"ACCESSFLOW_METRICS_PORT": str(port)})
    await _wait_for(lambda: _get(f"{base}/readyz")[0] == 200)
    assert _get(f"{base}/healthz")[0] == 200

    await e2e.produce_commands([e2e.create_command(e2e.user_id(n)) for n in range(5)])
    await e2e.produce([(b"junk", b"not a command")])
    create = "accessflow.assignmentRequest.create"
    await _wait_for(lambda: _handled(_get(f"{base}/metrics")[1], create) == 5)
    await _wait_for(lambda: _sample(_get(f"{base}/metrics")[1], "accessflow_dead_lettered_total"))
    text = _get(f"{base}/metrics")[1]
    assert _metric(text, "accessflow_transitions_total", state="delivered") == 5
    assert _metric(text, "accessflow_dead_lettered_total", code="NotJson") == 1
    assert _metric(text, "accessflow_command_latency_seconds_count") == 5
    assert _metric(text, "accessflow_last_poll_age_seconds") < 30
    for name in ("accessflow_outbox_backlog", "accessflow_outbox_oldest_age_seconds"):
        assert name in text

    assert worker.terminate() == 0
    handled = [line for line in worker.lines() if line["event"] == "command.handled"]
    assert len(handled) == 5
    for line in handled:
        assert {
            "command_id",
            "request_id",
            "type",
            "from_state",
            "to_state",
            "partition",
            "offset",
            "batch_duration_ms",
        } <= set(line)
        assert line["to_state"] == "delivered"


def _handled(text: str, command_type: str) -> float:
    try:
        return _metric(text, "accessflow_commands_total", type=command_type, outcome="handled")
    except AssertionError:
        return 0.0


def _sample(text: str, name: str, **labels: str) -> bool:
    """A sample, not just the HELP line a labelled counter exports before its first sample."""
    try:
        _metric(text, name, **labels)
    except AssertionError:
        return False
    return True
