"""Policy question patterns (``regexPattern``) on RE2, a linear-time regular expression engine.

Python's ``re`` backtracks: ``([A-Za-z0-9]+ ?)+`` against forty letters and a ``!`` runs for
hours, in the API's request handler and in the worker alike. RE2 matches in time linear in
the answer's length whatever the pattern, and refuses at compile time what it cannot do in
linear time (backreferences, lookaround, ``\\Z``), so a pattern is checked once, where the
catalog is loaded, and never surprises a request later.

Bounds: a pattern is at most :data:`MAX_PATTERN_LENGTH` characters, and RE2 may use at most
:data:`MAX_PATTERN_MEMORY` bytes per compiled pattern (its program and its DFA cache; a
pattern whose program does not fit is refused as "pattern too large", and a match whose DFA
cache fills falls back to RE2's slower, still linear, NFA).
"""

from __future__ import annotations

from typing import Protocol, cast

import re2

MAX_PATTERN_LENGTH = 1000
"""Characters in one ``regexPattern``; far above any real answer format (an e-mail pattern is
about 50), far below what could make compiling a pattern expensive."""

MAX_PATTERN_MEMORY = 1 << 20
"""RE2's ``max_mem`` for one compiled pattern (1 MiB instead of RE2's default 8 MiB)."""


class PatternError(ValueError):
    """A pattern RE2 will not run: too long, not valid Unicode, or refused by RE2."""


class CompiledPattern(Protocol):
    """The part of RE2's compiled pattern that accessflow uses."""

    def fullmatch(self, text: str) -> object | None: ...


def _options() -> object:
    options = re2.Options()
    options.max_mem = MAX_PATTERN_MEMORY
    options.log_errors = False  # the reason is raised as PatternError; RE2 would also log it
    return options


_OPTIONS = _options()


def compile_pattern(pattern: str) -> CompiledPattern:
    """Compile ``pattern`` with RE2 under the bounds above, or raise :class:`PatternError`
    with RE2's reason. The re2 module keeps an LRU cache of compiled patterns."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(
            f"{len(pattern)} characters long, more than the {MAX_PATTERN_LENGTH} allowed"
        )
    try:
        return cast(CompiledPattern, re2.compile(pattern, _OPTIONS))
    except UnicodeEncodeError:
        raise PatternError("not valid Unicode (a lone surrogate)") from None
    except re2.error as exc:
        raise PatternError(f"RE2 cannot compile it: {_reason(exc)}") from None


def full_match(pattern: str, value: str) -> bool:
    """Whether ``pattern`` matches the whole of ``value`` (Graph's ``regexPattern``
    semantics). A value that is not valid Unicode (a lone surrogate) matches nothing."""
    compiled = compile_pattern(pattern)
    try:
        return compiled.fullmatch(value) is not None
    except UnicodeEncodeError:
        return False


def _reason(exc: Exception) -> str:
    """RE2's message; the binding raises it as bytes."""
    reason = exc.args[0] if exc.args else exc
    if isinstance(reason, bytes):
        return reason.decode("utf-8", "replace")
    return str(reason)
