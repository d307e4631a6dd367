"""Read model of a request's transition history (``request_history``) for the HTTP API.

The worker writes one row per transition, in the same transaction as the request itself and
the ``processed_commands`` row of the command that caused it; rows are never deleted. The
cause's type comes from that ledger when the cause was a command; timers and connector
deliveries are not commands, and their causation ids say what they are (``timer:…``,
``delivery:…``). The ledger is pruned after ``ACCESSFLOW_PROCESSED_RETENTION_DAYS``; the
pruning first copies the command's type onto the row's ``command_type`` (the one update a
history row ever gets), which is read in preference to the join.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection

from accessflow.adapters.postgres.pool import Conn
from accessflow.service.read_model import HistoryRow

_HISTORY = """
SELECT h.request_id, h.sequence, h.previous_state, h.state, h.status, h.reason,
       h.causation_id, coalesce(h.command_type, c.command_type) AS command_type,
       h.occurred_at
FROM request_history h
LEFT JOIN processed_commands c ON c.command_id = h.causation_id
WHERE h.request_id = ANY($1::uuid[])
ORDER BY h.request_id, h.sequence
"""


async def get_history(
    conn: Conn, request_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[HistoryRow]]:
    """Each request's transitions in sequence order (a request without any maps to none)."""
    found: defaultdict[uuid.UUID, list[HistoryRow]] = defaultdict(list)
    if request_ids:
        for row in await conn.fetch(_HISTORY, sorted(set(request_ids))):
            found[row["request_id"]].append(HistoryRow(**dict(row)))
    return dict(found)
