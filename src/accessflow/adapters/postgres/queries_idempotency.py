"""Idempotency keys of ``POST …/assignmentRequests`` (table ``api_idempotency``, 0003).

A key is claimed with a ``pending`` row before the command is produced; the primary key
(caller, key) means a concurrent retry finds the claim instead of producing a second command.
The row is deleted when Kafka refuses the command and marked ``done`` with the response once
Kafka acknowledged it. A claim older than ``stale_after`` (its API process died between the
two) may be taken over: the same command is produced again, which the worker applies once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from accessflow.adapters.postgres.pool import Conn
from accessflow.service.read_model import IdempotencyRecord

_SELECT = """
SELECT request_id, body_hash, state, command, response, created_at < now() - $3::interval AS stale
FROM api_idempotency WHERE caller_id = $1 AND key = $2
"""


async def find(
    conn: Conn, caller: str, key: str, stale_after: timedelta
) -> IdempotencyRecord | None:
    row = await conn.fetchrow(_SELECT, caller.lower(), key, stale_after)
    return IdempotencyRecord(**dict(row)) if row is not None else None


async def claim(
    conn: Conn,
    caller: str,
    key: str,
    body_hash: str,
    request_id: uuid.UUID,
    command: dict[str, Any],
    response: dict[str, Any],
) -> bool:
    """Insert the pending row (with the answer it will give once done); False when the key
    is already claimed or done."""
    inserted = await conn.fetchval(
        "INSERT INTO api_idempotency "
        "(caller_id, key, body_hash, request_id, command, response, state) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'pending') ON CONFLICT DO NOTHING RETURNING true",
        caller.lower(),
        key,
        body_hash,
        request_id,
        command,
        response,
    )
    return bool(inserted)


async def take_over(conn: Conn, caller: str, key: str, stale_after: timedelta) -> bool:
    """Re-claim a stale pending row (atomically: one of several retries wins)."""
    taken = await conn.fetchval(
        "UPDATE api_idempotency SET created_at = now() WHERE caller_id = $1 AND key = $2 "
        "AND state = 'pending' AND created_at < now() - $3::interval RETURNING true",
        caller.lower(),
        key,
        stale_after,
    )
    return bool(taken)


async def complete(conn: Conn, caller: str, key: str) -> None:
    await conn.execute(
        "UPDATE api_idempotency SET state = 'done' WHERE caller_id = $1 AND key = $2",
        caller.lower(),
        key,
    )


async def release(conn: Conn, caller: str, key: str, request_id: uuid.UUID) -> None:
    """Drop a pending claim whose command Kafka did not take; a retry starts afresh."""
    await conn.execute(
        "DELETE FROM api_idempotency WHERE caller_id = $1 AND key = $2 AND request_id = $3 "
        "AND state = 'pending'",
        caller.lower(),
        key,
        request_id,
    )
