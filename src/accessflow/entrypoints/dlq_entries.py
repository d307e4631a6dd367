"""The DLQ as the operator commands see it: one entry per DLQ record (a copy of the original
record, or a reference to one too large to copy), and the filters that select entries."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import ConsumerRecord

from accessflow.adapters.kafka.dlq import DLQ_HEADER_PREFIXES
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS
from accessflow.service.dead_letters import REFERENCE_HEADER

_PREVIEW_CHARS = 80


def as_text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", errors="backslashreplace")


def preview(raw: bytes | None) -> str:
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
    # A reference stands for a record too large to copy: its value is a JSON document
    # (docs/contract.md), not the original bytes, so it cannot be replayed.
    reference: bool = False

    @classmethod
    def from_record(cls, record: ConsumerRecord) -> DlqEntry:
        dlq = {k: v for k, v in record.headers if k.startswith(DLQ_HEADER_PREFIXES)}
        return cls(
            partition=record.partition,
            offset=record.offset,
            timestamp=record.timestamp,
            code=as_text(dlq.get("accessflow-error-code")) or "",
            message=as_text(dlq.get("accessflow-error-message")) or "",
            original_topic=as_text(dlq.get("accessflow-original-topic")),
            original_partition=_int_or_none(dlq.get("accessflow-original-partition")),
            original_offset=_int_or_none(dlq.get("accessflow-original-offset")),
            key=record.key,
            value=record.value,
            headers=tuple(
                (k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIXES)
            ),
            reference=dlq.get(REFERENCE_HEADER) == b"true",
        )

    def reference_document(self) -> dict[str, Any] | None:
        if not self.reference:
            return None
        try:
            document = orjson.loads(self.value or b"")
        except orjson.JSONDecodeError:
            return None
        return document if isinstance(document, dict) else None

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
            "key": as_text(self.key),
            "headers": {k: as_text(v) for k, v in self.headers},
            "preview": preview(self.value),
            "valueBase64": None if self.value is None else base64.b64encode(self.value).decode(),
            "reference": self.reference_document() if self.reference else None,
        }

    def as_line(self) -> str:
        original = f"{self.original_topic}[{self.original_partition}]@{self.original_offset}"
        if self.reference:
            document = self.reference_document() or {}
            return (
                f"{self.partition}/{self.offset}  {self.code}  REFERENCE to {original}  "
                f"key={as_text(self.key)}  {document.get('sizeBytes', '?')} bytes  "
                f"sha256={document.get('sha256', '?')}  {self.message}  (not replayable)"
            )
        return (
            f"{self.partition}/{self.offset}  {self.code}  from {original}  "
            f"key={as_text(self.key)}  {self.message}  {preview(self.value)}"
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
            and (self.key is None or as_text(entry.key) == self.key)
        )
