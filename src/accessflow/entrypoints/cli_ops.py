"""Operator commands: inspect and replay the dead-letter queue, watch events as they arrive.

Registered on the main group by ``cli.py``. Every command reads topics without a consumer
group (``adapters.kafka.reading``), so looking never moves anyone's offsets. Output is a
readable line per message on a terminal and JSON lines otherwise (``--json`` forces JSON).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import sys
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import orjson
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.dlq import DLQ_HEADER_PREFIXES
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS, make_producer
from accessflow.adapters.kafka.reading import TopicNotFoundError, follow, read_to_end
from accessflow.entrypoints.cli_support import settings_of
from accessflow.settings import Settings

T = TypeVar("T")

_PREVIEW_CHARS = 80


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


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="backslashreplace")


def _preview(raw: bytes | None) -> str:
    shown = repr(raw)
    return shown if len(shown) <= _PREVIEW_CHARS else shown[: _PREVIEW_CHARS - 1] + "…"


def _int_or_none(raw: bytes | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None


@dataclass(frozen=True, slots=True)
class DlqEntry:
    """One DLQ record: where it sits, why it is there, and the original record."""

    partition: int
    offset: int
    timestamp: int
    code: str
    message: str
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]  # the original's own, DLQ headers removed

    @classmethod
    def from_record(cls, record: ConsumerRecord) -> DlqEntry:
        dlq = {k: v for k, v in record.headers if k.startswith(DLQ_HEADER_PREFIXES)}
        return cls(
            partition=record.partition,
            offset=record.offset,
            timestamp=record.timestamp,
            code=_text(dlq.get("accessflow-error-code")) or "",
            message=_text(dlq.get("accessflow-error-message")) or "",
            original_topic=_text(dlq.get("accessflow-original-topic")),
            original_partition=_int_or_none(dlq.get("accessflow-original-partition")),
            original_offset=_int_or_none(dlq.get("accessflow-original-offset")),
            key=record.key,
            value=record.value,
            headers=tuple(
                (k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIXES)
            ),
        )

    def replay_headers(self) -> list[tuple[str, bytes]]:
        # The contract puts content-type on every command; the DLQ may not have kept it.
        if any(k.lower() == "content-type" for k, _ in self.headers):
            return list(self.headers)
        return [*self.headers, *CLOUDEVENTS_HEADERS]

    def as_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "code": self.code,
            "message": self.message,
            "originalTopic": self.original_topic,
            "originalPartition": self.original_partition,
            "originalOffset": self.original_offset,
            "key": _text(self.key),
            "headers": {k: _text(v) for k, v in self.headers},
            "preview": _preview(self.value),
            "valueBase64": None if self.value is None else base64.b64encode(self.value).decode(),
        }

    def as_line(self) -> str:
        original = f"{self.original_topic}[{self.original_partition}]@{self.original_offset}"
        return (
            f"{self.partition}/{self.offset}  {self.code}  from {original}  "
            f"key={_text(self.key)}  {self.message}  {_preview(self.value)}"
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """Which DLQ entries a command acts on; an unset field matches everything."""

    code: str | None = None
    original_partition: int | None = None
    original_offset: int | None = None
    key: str | None = None

    @property
    def empty(self) -> bool:
        return self == Selection()

    def matches(self, entry: DlqEntry) -> bool:
        return (
            (self.code is None or entry.code == self.code)
            and (self.original_partition in (None, entry.original_partition))
            and (self.original_offset in (None, entry.original_offset))
            and (self.key is None or _text(entry.key) == self.key)
        )


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
    entries = _run(_select(settings, selection, None))
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
        if request_id is None or _text(record.key) == request_id:
            where = f"{record.topic} {record.partition}/{record.offset}"
            click.echo(f"warning: {where} is not a JSON event: {_preview(record.value)}", err=True)
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
