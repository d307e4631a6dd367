"""The outbox port (``service/publishing.py``) on PostgreSQL: the relay's own connection
holds the lead (an advisory lock, released when the connection closes) and hears the outbox
trigger's NOTIFY."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from accessflow.adapters.postgres import parked, pool
from accessflow.adapters.postgres.outbox import (
    NOTIFY_CHANNEL,
    delete_published,
    fetch_unpublished,
    try_lead,
)
from accessflow.service.publishing import OutboxRow, Parking
from accessflow.settings import Settings


class PgOutboxSession:
    """The relay's own connection: it holds the lead (an advisory lock) and hears NOTIFY."""

    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self._conn = conn
        self._schema = schema

    async def lead(self) -> bool:
        return await try_lead(self._conn, self._schema)

    async def fetch_unpublished(self, limit: int) -> list[OutboxRow]:
        return await fetch_unpublished(self._conn, limit)

    async def settle(
        self, sent: Sequence[int], refused: Sequence[Parking], behind: Sequence[Parking]
    ) -> list[int]:
        if not refused and not behind:  # the usual case: no transaction needed
            if sent:
                await delete_published(self._conn, list(sent))
            return []
        return await parked.settle(
            self._conn, self._schema, sent=sent, refused=refused, behind=behind
        )

    def is_closed(self) -> bool:
        return self._conn.is_closed()

    def close(self) -> None:
        self._conn.terminate()


class PgOutbox:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def open(self, on_notify: Callable[[], None]) -> PgOutboxSession:
        schema = self._settings.database_schema

        def heard(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            if payload == schema:
                on_notify()

        conn = await pool.connect(self._settings)
        try:
            await conn.add_listener(NOTIFY_CHANNEL, heard)
        except BaseException:
            conn.terminate()
            raise
        return PgOutboxSession(conn, schema)
