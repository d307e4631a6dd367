"""Operator commands: inspect and replay the dead-letter queue, watch events as they arrive.

Registered on the main group by ``cli.py``. Every command reads topics without a consumer
group (``adapters.kafka.reading``), so looking never moves anyone's offsets. Output is a
readable line per message on a terminal and JSON lines otherwise (``--json`` forces JSON).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

import click
import orjson
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.producer import make_producer
from accessflow.adapters.kafka.reading import TopicNotFoundError, follow, read_to_end
from accessflow.entrypoints.cli_support import settings_of
from accessflow.entrypoints.dlq_entries import DlqEntry, Selection, as_text, preview
from accessflow.settings import Settings

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine; broker trouble becomes a one-line error, not a traceback."""
    try:
        return asyncio.run(coro)
    except TopicNotFoundError as exc:
        raise click.ClickException(f"{exc} (run `accessflow topics ensure`)") from None
    except KafkaError as exc:
        raise click.ClickException(f"Kafka: {exc!r}") from None


def _as_json(forced: bool) -> bool:
    return forced or not sys.stdout.isatty()


def _selection_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the filter options; the command receives them as one ``selection`` argument."""

    @functools.wraps(command)
    def with_selection(
        *args: Any,
        code: str | None,
        original_partition: int | None,
        original_offset: int | None,
        key: str | None,
        **kwargs: Any,
    ) -> None:
        selection = Selection(code, original_partition, original_offset, key)
        command(*args, selection=selection, **kwargs)

    options = [
        click.option("--code", help="Only entries with this accessflow-error-code."),
        click.option("--original-partition", type=int, help="Only this original partition."),
        click.option("--original-offset", type=int, help="Only this original offset."),
        click.option("--key", help="Only entries with this key (a requestId)."),
    ]
    decorated: Callable[..., None] = with_selection
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


async def _select(settings: Settings, selection: Selection, limit: int | None) -> list[DlqEntry]:
    chosen: list[DlqEntry] = []
    async with aclosing(read_to_end(settings, settings.dlq_topic)) as records:
        async for record in records:
            entry = DlqEntry.from_record(record)
            if selection.matches(entry):
                chosen.append(entry)
                if limit is not None and len(chosen) >= limit:
                    break
    return chosen


def _echo_entries(entries: list[DlqEntry], as_json: bool) -> None:
    for entry in entries:
        click.echo(orjson.dumps(entry.as_json()).decode() if as_json else entry.as_line())


@click.group()
def dlq() -> None:
    """The dead-letter queue: records that were not commands, or kept failing."""


@dlq.command("list")
@click.option("--json", "json_", is_flag=True, help="JSON lines, with the value in base64.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N entries.")
@_selection_options
@click.pass_context
def dlq_list(ctx: click.Context, json_: bool, limit: int | None, selection: Selection) -> None:
    """List the DLQ from its beginning to its current end (per-partition order)."""
    settings = settings_of(ctx)
    entries = _run(_select(settings, selection, limit))
    _echo_entries(entries, _as_json(json_))


@dlq.command("replay")
@_selection_options
@click.option("--all", "all_", is_flag=True, help="Select every entry (no filter needed).")
@click.option("--dry-run", is_flag=True, help="List what would be replayed; publish nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def dlq_replay(
    ctx: click.Context, all_: bool, dry_run: bool, yes: bool, selection: Selection
) -> None:
    """Re-publish selected entries' original key, bytes and headers to the commands topic.

    At-least-once: replaying twice sends twice; the worker processes a command id once.
    The DLQ itself is left as it is (Kafka topics are append-only).
    """
    if selection.empty and not all_:
        raise click.UsageError("select entries with a filter (--code, --key, …) or --all")
    settings = settings_of(ctx)
    selected = _run(_select(settings, selection, None))
    entries = [entry for entry in selected if not entry.reference]
    for entry in selected:
        if entry.reference:
            click.echo(f"not replayable: {entry.as_line()}", err=True)
    if selected and not entries:
        raise click.ClickException(
            f"nothing to replay: the {len(selected)} selected DLQ entries are references to "
            "records too large for the DLQ, whose original bytes are not in the DLQ (read "
            "them from the original topic at the offset shown, while it retains them)"
        )
    if dry_run:
        _echo_entries(entries, _as_json(False))
        click.echo(f"would replay {len(entries)} message(s) to {settings.commands_topic}")
        return
    if entries and not yes:
        click.confirm(f"replay {len(entries)} message(s) to {settings.commands_topic}?", abort=True)
    _run(_republish(settings, entries))
    click.echo(f"replayed {len(entries)} message(s) to {settings.commands_topic}")


async def _republish(settings: Settings, entries: list[DlqEntry]) -> None:
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        # Sent in DLQ order, one idempotent producer: one key's commands keep their order.
        futures = [
            await producer.send(
                settings.commands_topic, e.value, key=e.key, headers=e.replay_headers()
            )
            for e in entries
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@click.group()
def events() -> None:
    """The events topic: state changes and rejected commands."""


@events.command("tail")
@click.option("--request", "request_id", help="Only events of this requestId (CloudEvent subject).")
@click.option("--from-beginning", is_flag=True, help="Start at the beginning, not the end.")
@click.option("--json", "json_", is_flag=True, help="Print each event's JSON as one line.")
@click.option("--count", type=click.IntRange(min=1), help="Exit after N matching events.")
@click.option("--timeout", type=click.FloatRange(min=0), help="Exit after SECONDS of following.")
@click.pass_context
def events_tail(
    ctx: click.Context,
    request_id: str | None,
    from_beginning: bool,
    json_: bool,
    count: int | None,
    timeout: float | None,
) -> None:
    """Print events as they arrive. With --count and --timeout, exit 1 if fewer arrived."""
    settings = settings_of(ctx)
    stream = follow(
        settings, settings.events_topic, from_beginning=from_beginning, timeout_s=timeout
    )
    seen = _run(_tail(stream, request_id, _as_json(json_), count))
    if count is not None and seen < count:
        raise click.ClickException(f"timed out after {timeout}s with {seen} of {count} events")


async def _tail(
    stream: AsyncGenerator[ConsumerRecord, None],
    request_id: str | None,
    as_json: bool,
    count: int | None,
) -> int:
    seen = 0
    async with aclosing(stream) as records:
        async for record in records:
            seen += _show(record, request_id, as_json)
            if count is not None and seen >= count:
                break
    return seen


def _show(record: ConsumerRecord, request_id: str | None, as_json: bool) -> bool:
    """Print the record if it matches; True when it was a matching event."""
    try:
        event = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError:
        event = None
    if not isinstance(event, dict):
        # Not an event at all: say so (on stderr, so stdout stays parseable) and go on.
        if request_id is None or as_text(record.key) == request_id:
            where = f"{record.topic} {record.partition}/{record.offset}"
            click.echo(f"warning: {where} is not a JSON event: {preview(record.value)}", err=True)
        return False
    if request_id is not None and event.get("subject") != request_id:
        return False
    click.echo(orjson.dumps(event).decode() if as_json else event_line(event))
    return True


def event_line(event: dict[str, Any]) -> str:
    """One readable line for an event; tolerant of missing or odd fields."""
    data = event.get("data")
    data = data if isinstance(data, dict) else {}
    head = f"{event.get('time', '?')}  {event.get('subject', '?')}"
    kind = event.get("type")
    if kind == "accessflow.assignmentRequest.stateChanged":
        line = (
            f"{head}  #{data.get('sequence', '?')}  {data.get('previousState') or '—'} → "
            f"{data.get('state', '?')}  ({data.get('status', '?')})"
        )
        reason = data.get("reason")
        if isinstance(reason, dict):
            line += f"  {reason.get('code', '?')}: {reason.get('message', '')}"
        return line
    if kind == "accessflow.command.rejected":
        reason = data.get("reason")
        reason = reason if isinstance(reason, dict) else {}
        return (
            f"{head}  rejected {data.get('commandType', '?')} "
            f"{reason.get('code', '?')}: {reason.get('message', '')}"
        )
    return f"{head}  {kind}"
