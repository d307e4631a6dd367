"""The request context every response shares: ``request-id``, the echoed
``client-request-id``, the body-size limit, and one canonical log line per request.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so streaming bodies are counted as they
arrive and nothing is buffered twice.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessflow.api.errors import (
    ApiError,
    bad_client_request_id_body,
    internal_error_body,
    too_large_body,
)
from accessflow.logs import get_logger

log = get_logger("accessflow.api")

# Graph asks for a GUID; anything printable and short is accepted and echoed, anything else
# is a 400 (it would otherwise be dropped silently, and it is the create's idempotency key).
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,128}")


class BodyTooLargeError(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "PayloadTooLarge", f"the request body is larger than {limit} bytes")


class RequestContext:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        state = scope.setdefault("state", {})
        state["request_id"] = str(uuid.uuid4())
        client_id = headers.get("client-request-id")
        valid_client_id = client_id is None or _CLIENT_ID.fullmatch(client_id) is not None
        state["client_request_id"] = client_id if valid_client_id else None
        echo = [(b"request-id", state["request_id"].encode())]
        if state["client_request_id"]:
            echo.append((b"client-request-id", state["client_request_id"].encode()))
        started = time.perf_counter()
        status = {"code": 0}

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *echo]}
            await send(message)

        try:
            if not valid_client_id:
                await self._reply(send_with_ids, 400, bad_client_request_id_body(scope))
            elif _declared_length(headers) > self.max_body_bytes:
                await self._reply(send_with_ids, 413, too_large_body(scope, self.max_body_bytes))
            else:
                await self.app(scope, self._limited(receive), send_with_ids)
        except Exception:
            log.exception("http.unhandled", request_id=state["request_id"], path=scope["path"])
            if status["code"] == 0:
                await self._reply(send_with_ids, 500, internal_error_body(scope))
        finally:
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                request_id=state["request_id"],
            )

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLargeError(limit)
            return message

        return counted

    @staticmethod
    async def _reply(send: Send, status: int, body: bytes) -> None:
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _declared_length(headers: dict[str, str]) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0
