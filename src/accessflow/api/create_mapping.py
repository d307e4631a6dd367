"""``POST …/assignmentRequests`` mapped onto :func:`accessflow.service.submit.submit`: the
caller and the body in, the Graph resource (or a Graph error) out.

The use case (the rules' pre-check, the idempotency key, producing the command and waiting
for Kafka's acknowledgement) is the service's; this module only translates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from accessflow.api.auth import Principal
from accessflow.api.deps import ApiContext
from accessflow.api.errors import ApiError
from accessflow.api.publisher import command_traceparent
from accessflow.api.representation import request_resource
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.service.submit import (
    KeyInFlightError,
    KeyReusedError,
    Submission,
    body_hash,
    submit,
)

__all__ = ["Created", "body_hash", "create_request"]


@dataclass(frozen=True)
class Created:
    resource: dict[str, Any]
    replayed: bool = False


async def create_request(
    ctx: ApiContext,
    caller: Principal,
    body: CreateAssignmentRequest,
    key: str | None,
    traceparent: str | None,
) -> Created:
    """``traceparent``: the caller's header as sent (an invalid one is not carried)."""
    asked = Submission(caller.caller, body, key, command_traceparent(traceparent))
    try:
        submitted = await submit(ctx.channels, asked, datetime.now(UTC))
    except KeyReusedError as exc:
        raise ApiError(409, "IdempotencyKeyReused", str(exc), target="Idempotency-Key") from None
    except KeyInFlightError as exc:
        raise ApiError(
            409,
            "IdempotencyKeyInFlight",
            str(exc),
            target="Idempotency-Key",
            headers={"Retry-After": "1"},
        ) from None
    return Created(request_resource(submitted.document), submitted.replayed)
