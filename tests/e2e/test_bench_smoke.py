"""``accessflow-bench`` in miniature, so the benchmark never rots: every phase runs against the
suite's backend, every request is delivered and the JSON report has every figure. No timing
is asserted; the figures of a few hundred requests mean nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from accessflow.settings import Settings

#: The bench starts accessflow's worker (and relay) processes itself.
pytestmark = pytest.mark.e2e
REQUESTS = 300


def _run_bench(env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    args = ["--requests", str(REQUESTS), "--rate", "200", "--catalog-users", "500"]
    args += ["--naive-requests", "100", "--latency-seconds", "2", "--json", str(out)]
    return _bench(env, args)


def _bench(env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accessflow.bench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


async def _leftovers(settings: Settings, tag: str) -> tuple[list[str], list[str]]:
    conn = await asyncpg.connect(settings.dsn)
    try:
        rows = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"bench\\_{tag}\\_%"
        )
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(f"bench.{tag}.")]
    finally:
        await admin.close()
    return [row["nspname"] for row in rows], topics


async def test_bench_delivers_every_request_reports_every_figure_and_cleans_up(
    settings: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    """A small bench exits 0, prints its table, writes a complete JSON report in which every
    phase delivered every request, and leaves no schema or topic behind."""
    out = tmp_path / "bench.json"
    result = _run_bench(subprocess_env, out)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "accessflow worker" in result.stdout
    assert "vs naive" in result.stdout

    doc = orjson.loads(out.read_bytes())
    assert doc["n"] == REQUESTS
    for key in ("python", "aiokafka", "asyncpg", "pydantic", "kafka", "postgresql", "cores"):
        assert doc["machine"][key], key
    phases = {
        "throughput": (doc["throughput"], REQUESTS),
        "raw pipe": (doc["baselines"]["raw_pipe"], REQUESTS),
        "naive": (doc["baselines"]["naive"], 100),
    }
    for name, (phase, expected) in phases.items():
        assert phase["requests"] == expected, name
        assert phase["delivered"] == expected, name
        assert phase["seconds"] > 0, name
        assert phase["requests_per_s"] > 0, name
        assert phase["peak_rss_mib"] > 0, name
    # At least the three state changes per request (submitted, delivering, delivered), plus
    # whatever else the worker publishes; exactly one event per raw-pipe command.
    assert doc["throughput"]["events"] >= 3 * REQUESTS
    assert doc["baselines"]["raw_pipe"]["events"] == REQUESTS
    assert doc["throughput"]["latency"]["count"] == REQUESTS

    [rate] = doc["latency"]
    assert rate["offered_rate"] == 200
    assert rate["delivered"] == rate["requests"] == REQUESTS  # min(--requests, 200/s × 2 s)
    figures = [rate["latency"][k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
    assert 0 < figures[0] <= figures[1] <= figures[2] <= figures[3]
    # Split by hop for every measured request; each hop's median is at most the whole's
    # maximum (hops cross processes on the wall clock, so a hop may round to 0 but not less
    # than a few ms below it).
    assert set(rate["hops"]) == {"to_decided", "to_published", "to_seen"}
    for hop in rate["hops"].values():
        assert hop["count"] == rate["latency"]["count"]
        assert -5 <= hop["p50_ms"] <= hop["max_ms"] <= figures[3] + 5

    assert doc["ratios"]["vs_naive"] > 0
    assert doc["ratios"]["vs_raw_pipe"] > 0
    assert doc["catalog_apply"]["users"] == 500
    assert doc["peak_worker_rss_mib"] > 0
    assert set(doc["targets"]) == {
        "vs_naive_at_least_10",
        "requests_per_s_at_least_3000",
        "p99_under_250_ms_at_500_per_s",
    }

    assert await _leftovers(settings, doc["tag"]) == ([], [])


async def test_bench_with_a_relay_process_delivers_every_request(
    settings: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    """--relay-process: the workers run with --no-relay and one `accessflow relay` publishes
    for them; every request still ends delivered, and nothing is left behind."""
    out = tmp_path / "bench.json"
    args = ["--requests", "100", "--rate", "100", "--catalog-users", "100", "--skip-baselines"]
    args += ["--latency-seconds", "1", "--relay-process", "--json", str(out)]
    result = _bench(subprocess_env, args)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "accessflow worker ×2 + relay" in result.stdout
    doc = orjson.loads(out.read_bytes())
    assert doc["options"]["relay_process"] is True
    assert doc["throughput"]["delivered"] == doc["throughput"]["requests"] == 100
    [rate] = doc["latency"]
    assert rate["delivered"] == rate["requests"] == 100
    assert await _leftovers(settings, doc["tag"]) == ([], [])
