"""Bytes from the commands topic become a typed command, a rejection, or a dead letter.

The line between the last two is the wire contract's: a record whose envelope parses and
names a requestId can be answered with an ``accessflow.command.rejected`` event keyed by
that request; anything less is not a command at all and goes to the DLQ, untouched.
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError

from accessflow.adapters.kafka.dlq import DeadLetter
from accessflow.domain.codes import ReasonCode
from accessflow.domain.create_body import validation_error
from accessflow.service.broker import Record
from accessflow.service.commands import DATA_MODELS, CommandEnvelope
from accessflow.service.events import ReasonDetail, RejectionReason
from accessflow.service.types import Command, Rejected

Decoded = Command | Rejected | DeadLetter


def dead_letter(record: Record, code: str, message: str) -> DeadLetter:
    """The DLQ entry for ``record``: its key, bytes and own headers, and why."""
    return DeadLetter(
        record.key,
        record.value,
        record.topic,
        record.partition,
        record.offset,
        code,
        message,
        tuple(record.headers or ()),
        record.timestamp,
    )


def decode(record: Record, max_bytes: int) -> Decoded:
    def dead(code: str, message: str) -> DeadLetter:
        return dead_letter(record, code, message)

    raw = record.value
    if raw is None:
        return dead("EmptyRecord", "the record has no value")
    if len(raw) > max_bytes:
        return dead("TooLarge", f"{len(raw)} bytes is over the {max_bytes}-byte limit")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        code = "NotUtf8" if "utf-8" in str(exc).lower() else "NotJson"
        return dead(code, str(exc))
    try:
        envelope = CommandEnvelope.model_validate(document)
    except ValidationError as exc:
        return dead("NotACommand", _summary(exc))
    return _typed(envelope, record.partition, record.offset, record.timestamp)


def _typed(envelope: CommandEnvelope, partition: int, offset: int, timestamp: int) -> Decoded:
    def invalid(code: str, message: str, details: list[ReasonDetail] | None = None) -> Rejected:
        reason = RejectionReason(code=code, message=message, details=details or [])
        return Rejected(
            envelope.id,
            envelope.type,
            envelope.subject,
            envelope.traceparent,
            reason,
            partition,
            offset,
            timestamp,
        )

    model = DATA_MODELS.get(envelope.type)
    if model is None:
        return invalid("UnknownCommandType", f"unknown command type {envelope.type!r}")
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        error = validation_error(exc)  # expands the create body's per-type shape rules
        details = [
            ReasonDetail(target=_join("data", d.path), message=d.message) for d in error.details
        ]
        code = (
            error.code.value
            if error.code is ReasonCode.REQUEST_TYPE_NOT_SUPPORTED
            else ReasonCode.INVALID_COMMAND.value
        )
        return invalid(code, "the command's data is invalid", details[:20])
    if data.request_id != envelope.subject:
        return invalid("InvalidCommand", "subject and data.requestId name different requests")
    return Command(
        envelope.id,
        envelope.type,
        envelope.source,
        envelope.subject,
        envelope.time,
        envelope.traceparent,
        data,
        partition,
        offset,
        timestamp,
    )


def _join(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if path else prefix


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, err['loc'])) or '(root)'}: {err['msg']}" for err in exc.errors()[:5]
    )
