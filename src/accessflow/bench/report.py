"""The run's figures: one JSON document (``--json PATH``) and the table printed at the end."""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from accessflow.adapters.postgres import pool
from accessflow.bench.phases import Options, RateLatency, Throughput
from accessflow.bench.setup import CatalogTiming
from accessflow.settings import Settings

STACK = Path(__file__).resolve().parents[3] / "deploy" / "local" / "stack"
TARGETS = {"vs_naive": 10.0, "requests_per_s": 3000.0, "p99_ms_at_500": 250.0}


@dataclass
class Results:
    tag: str
    options: Options
    machine: dict[str, Any]
    catalog: CatalogTiming | None = None
    worker: Throughput | None = None
    latency: list[RateLatency] = dataclasses.field(default_factory=list)
    raw_pipe: Throughput | None = None
    naive: Throughput | None = None
    backlog: Throughput | None = None


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _kafka_version() -> str:
    """The local stack names its broker's version; another cluster's is not on the wire."""
    if not STACK.exists():
        return "unknown"
    try:
        out = subprocess.run(
            [str(STACK), "status"], capture_output=True, text=True, timeout=15
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"kafka: running .*\(pid \d+, ([\w.\-]+)\)", out)
    return match[1] if match else "unknown"


async def machine(base: Settings) -> dict[str, Any]:
    conn = await pool.connect(base)
    try:
        postgres = str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "accessflow": _package("accessflow"),
        "aiokafka": _package("aiokafka"),
        "asyncpg": _package("asyncpg"),
        "pydantic": _package("pydantic"),
        "orjson": _package("orjson"),
        "kafka": _kafka_version(),
        "postgresql": postgres,
    }


def _ratio(a: Throughput | None, b: Throughput | None, attr: str = "requests_per_s") -> Any:
    if a is None or b is None or not getattr(b, attr):
        return None
    return round(getattr(a, attr) / getattr(b, attr), 2)


def _clean(value: Any) -> Any:
    """NaN is not JSON: an empty latency sample becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def document(results: Results) -> dict[str, Any]:
    worker = results.worker
    # Met only when 500/s was actually offered: a rate clamped to what the run sustains is not.
    at_500 = next((r for r in results.latency if r.requested_rate == 500), None)
    options = dataclasses.asdict(results.options)
    options["profile"] = str(results.options.profile) if results.options.profile else None
    ratios = {
        "vs_naive": _ratio(worker, results.naive),
        "vs_raw_pipe": _ratio(worker, results.raw_pipe),
        "vs_raw_pipe_events": _ratio(worker, results.raw_pipe, "events_per_s"),
    }
    targets = {
        "vs_naive_at_least_10": None if ratios["vs_naive"] is None else ratios["vs_naive"] >= 10,
        "requests_per_s_at_least_3000": (
            None if worker is None else worker.requests_per_s >= TARGETS["requests_per_s"]
        ),
        "p99_under_250_ms_at_500_per_s": (
            None
            if at_500 is None
            else at_500.offered_rate == 500 and at_500.latency.p99_ms < TARGETS["p99_ms_at_500"]
        ),
    }
    catalog = results.catalog
    cleaned: dict[str, Any] = _clean(
        {
            "tag": results.tag,
            "n": results.options.requests,
            "options": options,
            "machine": results.machine,
            "catalog_apply": None
            if catalog is None
            else {**dataclasses.asdict(catalog), "seconds": round(catalog.seconds, 3)},
            "throughput": _phase(worker),
            "latency": [dataclasses.asdict(r) for r in results.latency],
            "baselines": {"raw_pipe": _phase(results.raw_pipe), "naive": _phase(results.naive)},
            "ratios": ratios,
            "backlog": _phase(results.backlog),
            "peak_worker_rss_mib": max(
                (t.peak_rss_mib for t in (worker, results.backlog) if t is not None),
                default=None,
            ),
            "targets": targets,
        }
    )
    return cleaned


def _phase(result: Throughput | None) -> dict[str, Any] | None:
    return None if result is None else dataclasses.asdict(result)


def table(doc: dict[str, Any]) -> str:
    rows = [
        (
            "phase",
            "requests",
            "seconds",
            "req/s",
            "events/s",
            "p50/p95/p99/max ms",
            "CPU ms/req: proc/all",
            "RSS MiB",
        )
    ]
    labels = {
        "throughput": f"accessflow worker ×{doc['options']['workers']}"
        + (" + relay" if doc["options"].get("relay_process") else ""),
        "raw_pipe": "raw pipe (ceiling)",
        "naive": "naive worker",
        "backlog": "worker, from backlog",
    }
    phases = [
        ("throughput", doc["throughput"]),
        ("raw_pipe", doc["baselines"]["raw_pipe"]),
        ("naive", doc["baselines"]["naive"]),
        ("backlog", doc["backlog"]),
    ]
    for key, phase in phases:
        if phase is not None:
            rows.append(
                (
                    labels[key],
                    f"{phase['requests']:,}",
                    f"{phase['seconds']:.1f}",
                    f"{phase['requests_per_s']:,.0f}",
                    f"{phase['events_per_s']:,.0f}",
                    _percentiles(phase["latency"]),
                    f"{phase['cpu_ms_per_request']:.2f}/{phase['machine_cpu_ms_per_request']:.2f}",
                    f"{phase['peak_rss_mib']:.0f}",
                )
            )
    for rate in doc["latency"]:
        rows.append(
            (
                f"latency @ {rate['offered_rate']:,}/s offered",
                f"{rate['requests']:,}",
                "",
                f"{rate['achieved_rate']:,.0f}",
                "",
                _percentiles(rate["latency"]),
                "",
                "",
            )
        )
        for hop, label in HOPS.items():
            if hop in rate.get("hops", {}):
                rows.append((f"  {label}", "", "", "", "", _percentiles(rate["hops"][hop]), "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("")
    ratios = doc["ratios"]
    lines.append(
        f"vs naive: {ratios['vs_naive']}×   vs raw pipe: {ratios['vs_raw_pipe']}× (requests/s)"
    )
    if doc["catalog_apply"] is not None:
        c = doc["catalog_apply"]
        lines.append(
            f"catalog apply of {c['users']:,} users: {c['seconds']:.2f} s "
            f"(validate {c['validate_seconds']:.2f} s, bulk upsert {c['apply_seconds']:.2f} s)"
        )
    m = doc["machine"]
    lines.append(
        f"{m['cores']} cores · Python {m['python']} · aiokafka {m['aiokafka']} · asyncpg "
        f"{m['asyncpg']} · pydantic {m['pydantic']} · Kafka {m['kafka']} · PostgreSQL "
        f"{m['postgresql']}"
    )
    return "\n".join(lines)


HOPS = {
    "to_decided": "→ batch began",
    "to_published": "→ relay published",
    "to_seen": "→ read by bench",
}


def _percentiles(latency: dict[str, Any] | None) -> str:
    if not latency or latency.get("p50_ms") is None:
        return ""
    return "/".join(f"{latency[k]:,.0f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
