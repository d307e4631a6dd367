"""``accessflow submit``: put create commands on Kafka from flags, a JSON file or JSON lines,
optionally waiting for each request's terminal state on the events topic.

Registered on the main group by ``entrypoints/cli.py`` together with ``requests`` and
``approvals`` (``client/http_cli.py``). Readable on a terminal, JSON lines otherwise
(``--json`` forces JSON). Invalid bodies are reported on stderr and never produced.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
import orjson
from aiokafka.errors import KafkaError

from accessflow.adapters.kafka.limits import TopicLimitError
from accessflow.client.config import load_client_config
from accessflow.client.http_cli import approvals, requests
from accessflow.client.http_reads import assignments, packages
from accessflow.client.producer import AccessflowProducer, CommandRefusedError, NewRequest
from accessflow.client.subscriber import subscription, terminal_states
from accessflow.domain.create_body import parse_create_request
from accessflow.domain.errors import RequestValidationError
from accessflow.logs import configure_logging
from accessflow.service.events import StateChanged
from accessflow.settings_base import KafkaConnectionSettings, SettingsError

__all__ = ["approvals", "assignments", "packages", "requests", "submit"]

CLI_SOURCE = "urn:accessflow:cli"


@dataclass(frozen=True, slots=True)
class Parsed:
    """One input body: where it came from and either the request or why it is invalid."""

    where: str
    new: NewRequest | None = None
    error: str | None = None


def _config(ctx: click.Context) -> KafkaConnectionSettings:
    """The invocation's Kafka connection: the server's settings when the command line has
    read them already, else the client's own (``ACCESSFLOW_*`` as well), with logging
    configured from it (to stderr: stdout is the command's output)."""
    config = ctx.find_object(KafkaConnectionSettings)
    if config is None:
        try:
            client = load_client_config()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None
        configure_logging(client.log_level, client.log_format)
        ctx.obj = config = client
    return config


def _problem(exc: RequestValidationError) -> str:
    details = "; ".join(f"{d.path or '(root)'}: {d.message}" for d in exc.details)
    return f"{exc.code}: {exc.message}" + (f" ({details})" if details else "")


def parse_item(where: str, raw: Any, requestor: str | None, is_admin: bool) -> Parsed:
    """A body, or ``{"requestor": id | {"objectId", "isAdmin"}, "request": body}``."""
    if isinstance(raw, dict) and "request" in raw and "requestor" in raw:
        who = raw["requestor"]
        if isinstance(who, dict):
            requestor, is_admin = who.get("objectId"), bool(who.get("isAdmin", False))
        else:
            requestor = who
        raw = raw["request"]
    if not isinstance(requestor, str) or not requestor.strip():
        return Parsed(where, error='no requestor (give --requestor or a "requestor" field)')
    try:
        body = parse_create_request(raw)
    except RequestValidationError as exc:
        return Parsed(where, error=_problem(exc))
    return Parsed(where, NewRequest(requestor, body, uuid.uuid4(), is_admin))


def _lines(stream: IO[bytes], requestor: str | None, is_admin: bool) -> Iterator[Parsed]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Parsed(f"line {number}", error=f"MalformedJson: {exc}")
            continue
        yield parse_item(f"line {number}", raw, requestor, is_admin)


def _flags_body(
    access_package: str, policy: str | None, target: str | None, kind: str, why: str | None
) -> dict[str, Any]:
    assignment = {"accessPackageId": access_package}
    if policy:
        assignment["assignmentPolicyId"] = policy
    if target:
        assignment["targetId"] = target
    body: dict[str, Any] = {"requestType": kind, "assignment": assignment}
    if why is not None:
        body["justification"] = why
    return body


def _state_json(state: StateChanged) -> dict[str, Any]:
    return {
        "requestId": str(state.request_id),
        "state": state.state,
        "status": state.status,
        "sequence": state.sequence,
        "reason": None if state.reason is None else state.reason.model_dump(),
    }


def _state_line(state: StateChanged) -> str:
    line = f"{state.request_id}  {state.state}  ({state.status})"
    if state.reason is not None:
        line += f"  {state.reason.code}: {state.reason.message}"
    return line


@click.command()
@click.option("--access-package", help="accessPackageId of the request (flag mode).")
@click.option("--policy", help="assignmentPolicyId (flag mode).")
@click.option("--target", help="targetId (flag mode); Graph's default is the requestor.")
@click.option("--type", "kind", default="userAdd", show_default=True, help="requestType.")
@click.option("--justification", help="The requestor's justification (flag mode).")
@click.option("--requestor", help="The caller's object id (a --jsonl line may name its own).")
@click.option("--admin", is_flag=True, help="The caller holds the admin role (isAdmin).")
@click.option(
    "--file",
    "file_",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON file holding one Graph create body.",
)
@click.option("--jsonl", type=click.File("rb"), help="JSON lines of bodies ('-': stdin).")
@click.option("--wait", is_flag=True, help="Wait for each request's terminal state; print it.")
@click.option(
    "--until",
    multiple=True,
    type=click.Choice(["pendingApproval", "scheduled"]),
    help="With --wait, also stop at this state (repeatable).",
)
@click.option("--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True)
@click.option("--chunk-size", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--json", "json_", is_flag=True, help="JSON lines output.")
@click.pass_context
def submit(
    ctx: click.Context,
    access_package: str | None,
    policy: str | None,
    target: str | None,
    kind: str,
    justification: str | None,
    requestor: str | None,
    admin: bool,
    file_: Path | None,
    jsonl: IO[bytes] | None,
    wait: bool,
    until: tuple[str, ...],
    timeout: float,
    chunk_size: int,
    json_: bool,
) -> None:
    """Produce create commands straight to Kafka and print their request ids.

    Give exactly one of --access-package (flags), --file or --jsonl. Invalid bodies are
    reported with their line and skipped (exit code 1); the valid ones are still produced.
    """
    modes = [access_package is not None, file_ is not None, jsonl is not None]
    if sum(modes) != 1:
        raise click.UsageError("give exactly one of --access-package, --file or --jsonl")
    if access_package is not None:
        body = _flags_body(access_package, policy, target, kind, justification)
        items = [parse_item("flags", body, requestor, admin)]
    elif file_ is not None:
        try:
            raw = orjson.loads(file_.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(f"{file_}: MalformedJson: {exc}") from None
        items = [parse_item(str(file_), raw, requestor, admin)]
    else:
        assert jsonl is not None
        items = list(_lines(jsonl, requestor, admin))
    invalid = [item for item in items if item.error is not None]
    for item in invalid:
        click.echo(f"{item.where}: {item.error}", err=True)
    valid = [item for item in items if item.new is not None]
    as_json = json_ or not sys.stdout.isatty()
    settings = _config(ctx)
    try:
        unfinished = asyncio.run(
            _submit(settings, valid, chunk_size, as_json, wait=wait, until=until, wait_s=timeout)
        )
    except TopicLimitError as exc:  # the commands topic would refuse commands: say so plainly
        raise click.ClickException(str(exc)) from None
    except CommandRefusedError as exc:  # permanent: sending again would not help
        raise click.ClickException(f"Kafka refused the command: {exc}") from None
    except KafkaError as exc:  # aiokafka already retried within its request timeout
        raise click.ClickException(f"Kafka: {exc!r}") from None
    if unfinished:
        raise click.ClickException(
            f"timed out after {timeout}s: {unfinished} request(s) reached no terminal state"
        )
    if invalid:
        click.echo(
            f"{len(invalid)} invalid bod{'y' if len(invalid) == 1 else 'ies'} skipped", err=True
        )
        ctx.exit(1)


async def _submit(
    settings: KafkaConnectionSettings,
    items: list[Parsed],
    chunk_size: int,
    as_json: bool,
    *,
    wait: bool,
    until: tuple[str, ...],
    wait_s: float,
) -> int:
    """Produce every item in chunks; with ``wait``, print terminal states. Returns how many
    requests were still unfinished when the timeout passed."""
    news = [item.new for item in items if item.new is not None]
    ids = [new.request_id for new in news if new.request_id is not None]
    progress = sys.stderr.isatty() and len(news) > 1
    async with AsyncExitStack() as stack:
        events = None
        if wait and news:
            # Positions fixed before producing, so no event of ours can be missed.
            events = await stack.enter_async_context(subscription(settings, request_ids=ids))
        client = await stack.enter_async_context(
            AccessflowProducer(settings, source=CLI_SOURCE, linger_ms=20)
        )
        done = 0
        for start in range(0, len(items), chunk_size):
            chunk = items[start : start + chunk_size]
            produced = await client.create_many(item.new for item in chunk if item.new)
            for item, rid in zip(chunk, produced, strict=True):
                if as_json:
                    click.echo(orjson.dumps({"source": item.where, "requestId": str(rid)}).decode())
                else:
                    click.echo(str(rid))
            done += len(chunk)
            if progress:
                click.echo(f"\rproduced {done}/{len(news)}", err=True, nl=False)
        if progress:
            click.echo(err=True)
        if events is None:
            return 0
        waiting = set(ids)
        try:
            async with asyncio.timeout(wait_s):
                async for state in terminal_states(events, ids, until=until):
                    waiting.discard(state.request_id)
                    line = (
                        orjson.dumps(_state_json(state)).decode() if as_json else _state_line(state)
                    )
                    click.echo(line)
        except TimeoutError:
            pass
        return len(waiting)
