"""The alerts and the Grafana dashboard read only metrics a real worker exports, so the
deployment files and the code cannot drift apart unnoticed."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request

from deploy_support import PROMETHEUS_SERIES, exported_names, used_metric_names
from polling import eventually


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError):
        return None


async def test_every_metric_of_the_alerts_and_dashboard_is_exported_by_a_worker(e2e) -> None:
    e2e.prepare(e2e.catalog(1))
    port = _free_port()
    worker = e2e.start_worker(env={"ACCESSFLOW_METRICS_PORT": str(port)})
    exposition = await eventually(
        lambda: asyncio.to_thread(_scrape, f"http://127.0.0.1:{port}/metrics"),
        what="the worker's /metrics to answer",
    )
    assert worker.terminate() == 0

    exported = exported_names(exposition)
    used = used_metric_names()
    missing = {
        name: sorted(where)
        for name, where in used.items()
        if name not in exported and name not in PROMETHEUS_SERIES
    }
    assert not missing, f"used but not exported by the worker: {missing}"
    assert "accessflow_commands_total" in used  # the parse found the queries' names
