"""A dead letter sent as a reference: what the DLQ holds when the record itself cannot fit.

A record on the commands topic can be far larger than the DLQ accepts (a compressed batch
inflates; the DLQ headers add bytes to a record close to the limit). Its DLQ entry is then
this small JSON document instead of the original bytes: enough to find the original (topic,
partition, offset) while the commands topic still retains it, to recognise it (size,
SHA-256, the first bytes) and to know why it was dead-lettered. It cannot be replayed.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The Kafka header that marks a DLQ record as a reference (value ``true``).
REFERENCE_HEADER = "accessflow-dlq-reference"
REFERENCE_KIND: Final = "accessflow.dlq.reference"
#: How much of the original value a reference quotes (base64 in ``headBase64``).
HEAD_BYTES = 4096
#: Longer keys are quoted up to this many bytes (``keyBase64``) and not used as the DLQ key.
KEY_BYTES = 256


class DlqReference(BaseModel):
    """The value of a DLQ record that stands for a record too large to copy (contract v1)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, title="DlqReference"
    )

    kind: Literal["accessflow.dlq.reference"] = REFERENCE_KIND
    original_topic: str = Field(alias="originalTopic")
    original_partition: int = Field(alias="originalPartition")
    original_offset: int = Field(alias="originalOffset")
    original_timestamp: int | None = Field(
        alias="originalTimestamp", description="The record's Kafka timestamp, epoch ms."
    )
    key_base64: str | None = Field(
        alias="keyBase64", description=f"The key (its first {KEY_BYTES} bytes), base64."
    )
    key_size_bytes: int = Field(alias="keySizeBytes")
    size_bytes: int = Field(alias="sizeBytes", description="The value's size in bytes.")
    sha256: str | None = Field(description="SHA-256 of the value, lower-case hex.")
    head_base64: str = Field(
        alias="headBase64", description=f"The value's first {HEAD_BYTES} bytes, base64."
    )
    headers_size_bytes: int = Field(
        alias="headersSizeBytes",
        description="The size of the record's own headers; they are kept on the DLQ record "
        "when they fit, and listed by name in headerNames otherwise.",
    )
    header_names: list[str] = Field(alias="headerNames")
    error_code: str = Field(alias="errorCode", description="Why it was dead-lettered.")
    error_message: str = Field(alias="errorMessage")
    reason: str = Field(description="Why the DLQ holds a reference rather than a copy.")
