"""``accessflow outbox parked list|retry|drop``: the events the relay set aside because the
events topic will never accept them, or because an earlier event of their request was.

Registered on the main group by ``cli.py``. These commands touch PostgreSQL only; the relay
publishes what ``retry`` puts back, in the original order. See docs/operations.md
("Parked events") for the runbook.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import orjson

from accessflow.adapters.postgres import parked as store
from accessflow.adapters.postgres.parked import ParkedEvent
from accessflow.adapters.postgres.pool import Conn, connect
from accessflow.entrypoints.cli_support import settings_of
from accessflow.logs import get_logger
from accessflow.settings import Settings

T = TypeVar("T")
log = get_logger("accessflow.outbox")


def _with_connection(settings: Settings, work: Callable[[Conn], Awaitable[T]]) -> T:
    async def run() -> T:
        conn = await connect(settings)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def _as_json(event: ParkedEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "eventId": event.event_id,
        "requestId": event.key,
        "type": event.event_type,
        "size": event.size,
        "reason": event.reason,
        "error": event.error_message,
        "createdAt": event.created_at.isoformat(),
        "parkedAt": event.parked_at.isoformat(),
    }


def _as_line(event: ParkedEvent) -> str:
    return (
        f"{event.id}  {event.event_id}  request {event.key}  {event.event_type}  "
        f"{event.size} bytes  {event.reason}  parked {event.parked_at:%Y-%m-%dT%H:%M:%SZ}  "
        f"{event.error_message}"
    )


def _echo(events: list[ParkedEvent], json_: bool) -> None:
    as_json = json_ or not sys.stdout.isatty()
    for event in events:
        click.echo(orjson.dumps(_as_json(event)).decode() if as_json else _as_line(event))


def _chosen(settings: Settings, event_ids: tuple[str, ...], all_: bool) -> list[ParkedEvent]:
    """The parked events named (by list id or event id), or all; an unknown name is an error
    before anything changes."""
    if bool(event_ids) == all_:
        raise click.UsageError("name parked events (EVENT_ID…) or give --all, not both")
    events = _with_connection(settings, store.list_parked)
    if all_:
        return events
    by_name = {str(e.id): e for e in events} | {e.event_id: e for e in events}
    unknown = [name for name in event_ids if _normal(name) not in by_name]
    if unknown:
        raise click.ClickException(f"not parked: {', '.join(unknown)}")
    return sorted(
        {by_name[_normal(name)].id: by_name[_normal(name)] for name in event_ids}.values(),
        key=lambda e: e.id,
    )


def _normal(name: str) -> str:
    try:
        return str(uuid.UUID(name))
    except ValueError:
        return name.strip()


@click.group()
def outbox() -> None:
    """The transactional outbox: committed events on their way to the events topic."""


@outbox.group()
def parked() -> None:
    """Events the events topic refused (and the later events of their requests)."""


@parked.command("list")
@click.option("--json", "json_", is_flag=True, help="JSON lines (the default off a terminal).")
@click.pass_context
def parked_list(ctx: click.Context, json_: bool) -> None:
    """Show parked events in their original order: id, event id, request, type, size,
    reason, when parked and the error."""
    _echo(_with_connection(settings_of(ctx), store.list_parked), json_)


@parked.command("retry")
@click.argument("event_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every parked event.")
@click.pass_context
def parked_retry(ctx: click.Context, event_ids: tuple[str, ...], all_: bool) -> None:
    """Move parked events (by id or event id) back into the outbox, in their original
    order; the relay publishes them, or parks them again if the topic still refuses."""
    settings = settings_of(ctx)
    chosen = _chosen(settings, event_ids, all_)
    schema = settings.database_schema

    async def move(conn: Conn) -> list[int]:
        return await store.retry(conn, schema, [e.id for e in chosen])

    moved = _with_connection(settings, move)
    requests = sorted({e.key for e in chosen if e.id in set(moved)})
    log.info("event.parked_retried", ids=moved, requests=requests)
    click.echo(
        f"moved {len(moved)} parked event(s) of {len(requests)} request(s) back to the "
        "outbox; the relay publishes them in their original order"
    )


@parked.command("drop")
@click.argument("event_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every parked event.")
@click.option("--yes", is_flag=True, help="Required: the events are deleted for good.")
@click.option("--json", "json_", is_flag=True, help="Print the dropped events as JSON lines.")
@click.pass_context
def parked_drop(
    ctx: click.Context, event_ids: tuple[str, ...], all_: bool, yes: bool, json_: bool
) -> None:
    """Delete parked events for good (consumers never see them), printing each one.

    For an event no topic limit should accept. Later events of its request stay parked
    until retried: retry them to publish them after the gap this leaves.
    """
    if not yes:
        raise click.UsageError("dropping deletes events for good: add --yes")
    settings = settings_of(ctx)
    chosen = _chosen(settings, event_ids, all_)
    schema = settings.database_schema

    async def delete(conn: Conn) -> list[ParkedEvent]:
        return await store.drop(conn, schema, [e.id for e in chosen])

    dropped = _with_connection(settings, delete)
    for event in dropped:
        log.warning("event.dropped", **_as_json(event))
    _echo(dropped, json_)
    click.echo(f"dropped {len(dropped)} parked event(s)", err=True)
