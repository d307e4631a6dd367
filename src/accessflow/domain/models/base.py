"""Shared model configuration and Graph scalar types.

Graph writes camelCase JSON; Python code uses snake_case. Models that come *in* (bodies,
catalog files) ignore unknown properties, as Graph clients send annotations and beta fields;
models accessflow *emits* forbid them, so nothing stray ever reaches the wire.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)
from pydantic.alias_generators import to_camel

from accessflow.domain.models.text import IdText

_COMMON = ConfigDict(
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
    frozen=True,
    str_strip_whitespace=False,
)


class InboundModel(BaseModel):
    """A Graph-shaped model read from outside: unknown properties are ignored."""

    model_config = ConfigDict(**_COMMON, extra="ignore")


class OutboundModel(BaseModel):
    """A Graph-shaped model accessflow emits: unknown properties are an error."""

    model_config = ConfigDict(**_COMMON, extra="forbid")


def _text_only(expected: str) -> Callable[[Any], Any]:
    """Graph sends these scalars as JSON strings; pydantic would also take numbers (epoch
    seconds), which no Graph client means."""

    def check(value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"expected {expected}")
        return value

    return check


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # e.g. 9999-12-31T23:00:00-05:00 is past datetime.max once in UTC.
        raise ValueError("date-time is out of range once converted to UTC") from None


def format_utc(value: datetime) -> str:
    """Graph's form: UTC, ``Z``, fractional seconds only when present (``…02.39Z``)."""
    if value.tzinfo is UTC:
        return _format_utc_cached(value)
    return _format(value)


@functools.lru_cache(maxsize=4096)
def _format_utc_cached(value: datetime) -> str:
    """Every request document repeats the same few instants (the batch's clock, the
    package's and the request's timestamps) and ``strftime`` is most of a document's dump.
    Only UTC datetimes are cached: in a zone with DST, two datetimes that differ only in
    ``fold`` are equal keys but different instants."""
    return _format(value)


def _format(value: datetime) -> str:
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


#: ``Edm.DateTimeOffset``: an offset is required on input (Graph's pattern demands ``Z`` or
#: ``±hh:mm``); stored and emitted in UTC with ``Z``.
UtcDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_text_only("an ISO 8601 date-time with an offset, e.g. 2026-01-31T09:00:00Z")),
    AfterValidator(_to_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]


def format_duration(value: timedelta) -> str:
    """``Edm.Duration`` as ISO 8601 (``P90D``, ``PT3H``, ``P1DT2H30M``)."""
    # Integer arithmetic: total_seconds() is a float, which rounds timedelta.max up to a
    # duration that cannot be read back.
    micro = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micro < 0 else ""
    total = abs(micro) // 1_000_000
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    date_part = f"{days}D" if days else ""
    time_part = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    if not date_part and not time_part:
        return "PT0S"
    return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")


#: ``Edm.Duration``; ``P1Y`` and ``P1M`` are read as 365 and 30 days.
Duration = Annotated[timedelta, PlainSerializer(format_duration, return_type=str, when_used="json")]


def odata_tag(*names: str) -> Callable[[Any], str | None]:
    """A union discriminator over ``@odata.type`` that accepts ``#microsoft.graph.x``,
    ``microsoft.graph.x`` or ``x`` in any case, and returns the tag ``#microsoft.graph.x``."""
    by_fold = {name.casefold(): f"#microsoft.graph.{name}" for name in names}

    def discriminate(value: Any) -> str | None:
        raw = value.get("@odata.type") if isinstance(value, dict) else None
        if raw is None and not isinstance(value, dict):
            raw = getattr(value, "odata_type", None)
        if not isinstance(raw, str):
            return None
        return by_fold.get(_short_type(raw))

    return discriminate


def _short_type(raw: str) -> str:
    return raw.removeprefix("#").casefold().removeprefix("microsoft.graph.")


class TypedInboundModel(InboundModel):
    """A derived Graph type that carries ``@odata.type``; emitted in the ``#microsoft.graph.x``
    form, accepted with or without ``#`` and in any case, defaulted when absent."""

    ODATA_TYPE: ClassVar[str]
    odata_type: str = Field(default="", alias="@odata.type", validate_default=True)

    @field_validator("odata_type", mode="before")
    @classmethod
    def _canonical_type(cls, value: Any) -> str:
        if value in (None, "") or (
            isinstance(value, str) and _short_type(value) == _short_type(cls.ODATA_TYPE)
        ):
            return cls.ODATA_TYPE
        raise ValueError(f"expected @odata.type {cls.ODATA_TYPE}")


class EntityRef(InboundModel):
    """A navigation property sent by reference only: ``{"id": "…"}``."""

    id: IdText
