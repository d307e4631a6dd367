"""The processes a phase runs: real ``accessflow worker`` processes (or a baseline), started
as a user starts them, watched through their JSON log lines, and always stopped.

Peak memory is the kernel's high-water mark of each process's resident set (``VmHWM``), read
just before it is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

WORKER = [sys.executable, "-m", "accessflow.entrypoints.cli", "worker"]
BASELINE = [sys.executable, "-m", "accessflow.bench.baselines"]


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    log: Path
    read_to: int = 0
    assigned: set[int] | None = None  # its latest assignment; None until it has one
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

    def new_lines(self) -> list[dict[str, object]]:
        with self.log.open("rb") as handle:
            handle.seek(self.read_to)
            chunk = handle.read()
        complete = chunk.rfind(b"\n") + 1
        self.read_to += complete
        lines = []
        for raw in chunk[:complete].splitlines():
            if raw.startswith(b"{"):
                with contextlib.suppress(orjson.JSONDecodeError):
                    lines.append(orjson.loads(raw))
        return lines


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

    async def wait_assigned(self, partitions: int, within: float = 120) -> None:
        """Until the group has settled: every member has its assignment, and together they
        own each partition exactly once."""
        deadline = time.monotonic() + within
        while True:
            for child in self.members:
                if child.proc.poll() is not None:
                    tail = child.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{child.log.name}: the process exited early:\n{tail}")
                for line in child.new_lines():
                    if line.get("event") == "partitions.assigned":
                        child.assigned = set(line.get("partitions") or [])  # type: ignore[call-overload]
                    elif line.get("event") == "partitions.revoked":
                        child.assigned = set()
            owned = [child.assigned for child in self.members]
            if all(o is not None for o in owned):
                flat = [p for o in owned if o is not None for p in o]
                if len(flat) == partitions and set(flat) == set(range(partitions)):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the consumer group did not settle in {within:.0f} s")
            await asyncio.sleep(0.1)

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
