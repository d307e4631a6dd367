"""What a value must be for the store to hold it: checked where client text enters, so a
value PostgreSQL would refuse is a 400 naming it, never a database error.

- ``text`` and ``jsonb`` refuse NUL (U+0000), and a lone surrogate (U+D800–U+DFFF, which a
  JSON ``\\ud800`` escape or a decoder can produce) has no UTF-8 encoding at all;
- a date-time is stored as UTC, so one whose UTC instant falls outside Python's years
  1–9999 (``0001-01-01T00:00:00+14:00``) cannot even be sent (PostgreSQL's own
  ``timestamptz`` range, 4713 BC to 294276 AD, is wider: Python's is the binding one);
- integers are 32 or 64 bits wide.

Each check returns the problem as a short phrase (``None`` when the value is fine), so the
caller words the answer and names the field.
"""

from __future__ import annotations

from datetime import UTC, datetime

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def has_nul(text: str) -> bool:
    return "\x00" in text


def text_problem(text: str, max_chars: int) -> str | None:
    """Why ``text`` cannot be stored as ``text`` of at most ``max_chars`` characters."""
    if len(text) > max_chars:
        return f"is longer than {max_chars} characters"
    if has_nul(text):
        return "contains the NUL character (U+0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not encodable as UTF-8)"
    return None


def moment_problem(moment: datetime) -> str | None:
    """Why ``moment`` cannot be stored as a ``timestamptz``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return "has no UTC offset"
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return "is outside the years 1-9999 once converted to UTC"
    return None


def int_problem(value: int, bounds: tuple[int, int] = INT64) -> str | None:
    low, high = bounds
    if not low <= value <= high:
        return f"is outside {low}..{high}"
    return None
