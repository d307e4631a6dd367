"""A real HTTP receiver for webhook deliveries: uvicorn on 127.0.0.1 (a free port), in the
test's own event loop. Each test scripts the answers per endpoint (status, delay, headers)
and reads back every call: the raw body, the headers and when it arrived."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Step:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    base_url: str
    script: dict[str, list[Step]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, list[Call]] = field(default_factory=lambda: defaultdict(list))

    def url(self, name: str) -> str:
        return f"{self.base_url}/hook/{name}"

    def answer(self, name: str, *steps: Step) -> str:
        """Script the next answers of endpoint ``name`` (then 200s); return its URL."""
        self.script[name].extend(steps)
        return self.url(name)


async def _hook(request: Request) -> Response:
    receiver: Receiver = request.app.state.receiver
    name = request.path_params["name"]
    body = await request.body()
    receiver.calls[name].append(Call(body, dict(request.headers), time.monotonic()))
    script = receiver.script[name]
    step = script.pop(0) if script else Step()
    if step.delay:
        await asyncio.sleep(step.delay)
    return Response(f"status {step.status}", step.status, headers=step.headers)


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hook/{name}", _hook, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    config.timeout_graceful_shutdown = 1
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:  # uvicorn exposes a flag, not an event
        if task.done():
            task.result()  # it failed to start: raise its error here
        await asyncio.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    app.state.receiver = Receiver(f"http://127.0.0.1:{port}")
    try:
        yield app.state.receiver
    finally:
        uv.should_exit = True
        await task
