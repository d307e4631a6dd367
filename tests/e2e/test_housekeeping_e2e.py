"""The housekeeping loop is wired into a real worker: its first pass, at start, prunes the
ledger, logs ``housekeeping.pruned`` and counts the rows on /metrics. (What a pass deletes
is tests/integration/test_retention.py; the loop itself, tests/unit/test_housekeeping.py.)"""

from __future__ import annotations

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pruned(port: int, table: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "accessflow_rows_pruned_total" and sample.labels == {"table": table}:
                return float(sample.value)
    raise AssertionError(f"accessflow_rows_pruned_total{{table={table!r}}} not exported")


async def test_a_worker_prunes_the_ledger_past_its_retention(e2e) -> None:
    e2e.cli("migrate")
    await e2e.query(
        "INSERT INTO processed_commands (command_id, command_type, outcome, processed_at) "
        "VALUES ('ancient', 'x', 'handled', now() - interval '31 days'), "
        "('recent', 'x', 'handled', now() - interval '29 days')"
    )
    port = _free_port()
    worker = e2e.start_worker(env={"ACCESSFLOW_METRICS_PORT": str(port)})

    await worker.logged("housekeeping.pruned")

    assert _pruned(port, "processed_commands") == 1
    assert worker.terminate() == 0
    [line] = [line for line in worker.lines() if line["event"] == "housekeeping.pruned"]
    assert (line["processed_commands"], line["api_idempotency"], line["timers"]) == (1, 0, 0)
    rows = await e2e.query("SELECT command_id FROM processed_commands")
    assert [row["command_id"] for row in rows] == ["recent"]
