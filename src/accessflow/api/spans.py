"""A span for each HTTP call (when tracing is on), child of the caller's ``traceparent``.

Outermost of the middlewares, so the span covers authentication, the body limit and the
error mapping too; the commands a call produces carry this span as their parent
(``tracing.outgoing_traceparent``).
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessflow import tracing


class TraceRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        incoming = dict(scope["headers"]).get(b"traceparent", b"").decode("latin-1")
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracing.span(
            method,
            traceparent=incoming or None,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as current:
            await self.app(scope, receive, send_status)
            route = scope.get("route")
            if route is not None:
                current.update_name(f"{method} {route.path}")
                current.set_attribute("http.route", route.path)
            current.set_attribute("http.response.status_code", status)
            if status >= 500:
                current.set_status(Status(StatusCode.ERROR))
