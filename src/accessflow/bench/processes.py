"""The processes a phase runs: real ``accessflow worker`` processes (or a baseline), started
as a user starts them, ready once their consumer group is stable, and always stopped.

Peak memory is the kernel's high-water mark of each process's resident set (``VmHWM``), read
just before it is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from accessflow.adapters.kafka.options import client_options
from accessflow.settings import Settings

WORKER = [sys.executable, "-m", "accessflow.entrypoints.cli", "worker"]
RELAY = [sys.executable, "-m", "accessflow.entrypoints.cli", "relay"]
BASELINE = [sys.executable, "-m", "accessflow.bench.baselines"]


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    log: Path
    profiler: subprocess.Popen[bytes] | None = None

    def peak_rss_bytes(self) -> int:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far (``/proc/<pid>/stat``, in clock ticks)."""
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Children:
    """Every process a phase started; :meth:`stop` ends them all, gracefully first."""

    logs: Path
    members: list[Child] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        log = self.logs / f"{name}-{len(self.members)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        child = Child(proc, log)
        self.members.append(child)
        return child

    async def wait_settled(
        self, settings: Settings, within: float = 120, *, group_members: int | None = None
    ) -> None:
        """Until the consumer group is stable with ``group_members`` (default: every process
        started) in it, asked of the group coordinator, so it works whatever the processes
        log. Every process must still be running."""
        expected = len(self.members) if group_members is None else group_members
        deadline = time.monotonic() + within
        admin = AIOKafkaAdminClient(**client_options(settings))
        await admin.start()
        try:
            while True:
                for child in self.members:
                    if child.proc.poll() is not None:
                        tail = child.log.read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"{child.log.name}: the process exited early:\n{tail}")
                if await _stable(admin, settings.consumer_group_id, expected):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the consumer group did not settle in {within:.0f} s")
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    def profile(self, directory: Path, label: str) -> bool:
        """Attach py-spy to every member (when it is installed): one profile each, as
        collapsed stacks (``flamegraph.pl`` and speedscope read them; so does ``grep``)."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            return False
        directory.mkdir(parents=True, exist_ok=True)
        for index, child in enumerate(self.members):
            target = directory / f"{label}-{index}.folded"
            pid = str(child.proc.pid)
            child.profiler = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    pid,
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "-o",
                    str(target),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return True

    def peak_rss_bytes(self) -> list[int]:
        return [child.peak_rss_bytes() for child in self.members]

    def cpu_seconds(self) -> float:
        return sum(child.cpu_seconds() for child in self.members)

    async def stop(self, grace: float = 45) -> None:
        """SIGTERM (the worker drains its batch and its relay), then SIGKILL after ``grace``."""
        profilers = [c.profiler for c in self.members if c.profiler is not None]
        for profiler in profilers:
            with contextlib.suppress(ProcessLookupError):
                profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for child in self.members:
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
        pending = [c.proc for c in self.members] + profilers
        for _ in range(int(grace * 10)):
            if all(p.poll() is not None for p in pending):
                break
            await asyncio.sleep(0.1)
        self.kill()

    def kill(self) -> None:
        """SIGKILL whatever is still running (the last resort, also after Ctrl-C)."""
        profilers = [c.profiler for c in self.members if c.profiler is not None]
        for proc in [c.proc for c in self.members] + profilers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def _stable(admin: AIOKafkaAdminClient, group: str, members: int) -> bool:
    for response in await admin.describe_consumer_groups([group]):
        for described in response.to_object()["groups"]:
            if described["group"] == group:
                return bool(described["state"] == "Stable" and len(described["members"]) == members)
    return False


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (``/proc/stat``: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def cpu_by_program() -> dict[str, float]:
    """CPU seconds so far of PostgreSQL's processes, the JVM (Kafka) and this process: with
    the machine's total, where a phase's CPU went. Processes that exit meanwhile are missed
    (PostgreSQL backends of the pools live through a phase)."""
    totals = {"postgresql": 0.0, "kafka": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        program = {"postgres": "postgresql", "java": "kafka"}.get(name)
        if program is not None:
            fields = text[text.rindex(")") + 2 :].split()
            totals[program] += (int(fields[11]) + int(fields[12])) / tick
    own = os.times()
    totals["bench"] = own.user + own.system
    totals["machine"] = machine_cpu_seconds()
    return totals
