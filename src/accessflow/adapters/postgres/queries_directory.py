"""Directory users by id, for the API's ``$expand=target`` of assignments."""

from __future__ import annotations

from collections.abc import Collection

from accessflow.adapters.postgres.pool import Conn
from accessflow.domain.models.packages import DirectoryUser


async def get_users(conn: Conn, ids: Collection[str]) -> dict[str, DirectoryUser]:
    """Users by their (lower-case) id; unknown ids are simply absent."""
    rows = await conn.fetch(
        "SELECT id, display_name, mail, user_type, manager_id FROM directory_users "
        "WHERE id = ANY($1::text[])",
        sorted({i.lower() for i in ids}),
    )
    return {
        row["id"]: DirectoryUser(
            id=row["id"],
            display_name=row["display_name"],
            mail=row["mail"],
            user_type=row["user_type"],
            manager_id=row["manager_id"],
        )
        for row in rows
    }
