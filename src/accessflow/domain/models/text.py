"""Client strings with their maximum (:mod:`accessflow.domain.limits`) and without NUL.

Every string a client sends is one of these types, so a value over its limit fails
validation where the field is read: the API answers 400 naming the field, the worker a
rejection event naming it in ``details``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from accessflow.domain import limits

NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


_NO_NUL = AfterValidator(_no_nul)


def _at_most(chars: int) -> StringConstraints:
    return StringConstraints(max_length=chars)


#: Any client text without a length of its own: NUL is refused.
Text = Annotated[str, _NO_NUL]
IdText = Annotated[str, _at_most(limits.MAX_ID_CHARS), _NO_NUL]
DisplayText = Annotated[str, _at_most(limits.MAX_DISPLAY_CHARS), _NO_NUL]
EmailText = Annotated[str, _at_most(limits.MAX_EMAIL_CHARS), _NO_NUL]
ShortText = Annotated[str, _at_most(limits.MAX_SHORT_TEXT_CHARS), _NO_NUL]
JustificationText = Annotated[str, _at_most(limits.MAX_JUSTIFICATION_CHARS), _NO_NUL]
AnswerText = Annotated[str, _at_most(limits.MAX_ANSWER_CHARS), _NO_NUL]
CalloutDetailText = Annotated[str, _at_most(limits.MAX_CALLOUT_DETAIL_CHARS), _NO_NUL]
DecisionJustificationText = Annotated[
    str, _at_most(limits.MAX_DECISION_JUSTIFICATION_CHARS), _NO_NUL
]


def _short_duration(value: Any) -> Any:
    if isinstance(value, str) and len(value) > limits.MAX_DURATION_CHARS:
        raise ValueError(f"an ISO 8601 duration is at most {limits.MAX_DURATION_CHARS} characters")
    return value


#: Before a duration is parsed: its text is bounded (what is emitted is re-formatted).
DurationText = BeforeValidator(_short_duration)


def _small_json(value: Any) -> Any:
    if value is None:
        return None
    try:
        _refuse_nul(value)
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    except RecursionError:
        raise ValueError("is nested too deeply") from None
    if size > limits.MAX_RECURRENCE_BYTES:
        raise ValueError(f"is {size} bytes as JSON; at most {limits.MAX_RECURRENCE_BYTES}")
    return value


def _refuse_nul(value: Any) -> None:
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item)


#: An opaque JSON object carried through untouched (``schedule.recurrence``): bounded as a
#: whole, in compact JSON bytes, and free of NUL at any depth.
SmallJson = AfterValidator(_small_json)
