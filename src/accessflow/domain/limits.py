"""The size budget: every value a client controls has a maximum, chosen so that no command
the API or the worker accepts can make an event larger than the events topic takes.

====================================  ==========  =========================================
Field                                 Maximum     Where
====================================  ==========  =========================================
``justification`` (create)            4,000 ch    create body, ``data.request``
``answers``                           25 items    create body
``answers[].value``/``displayValue``  2,000 ch    create body
ids (``targetId``, ``accessPackage    256 ch      create body, commands' ``requestor``/
Id``, ``assignment.id``, question                 ``reviewer.objectId``, ``stageId``
and subject ids, ``objectId`` …)
display names, principal names        256 ch      ``assignment.target``, catalog, directory
e-mail addresses                      254 ch      ``assignment.target.email``, directory
short strings (``status``, SIDs)      256 ch      ``assignment``
``customExtensionCalloutInstances``   10 items    ``assignment``; ``detail`` 1,000 ch
schedule durations (ISO 8601)         64 ch       ``schedule.expiration.duration``
``schedule.recurrence``               2,048 B     as compact JSON
decide ``justification``              10,000 ch   stage PATCH, ``data.justification``
reason ``message`` (events)           2,000 ch    truncated by the worker, never refused
reason ``details`` (events)           20 items    each ``message`` 500 ch, ``target`` 256 ch
====================================  ==========  =========================================

Characters are Unicode code points (Python ``len``). No client string may contain NUL
(U+0000): PostgreSQL's ``text`` and ``jsonb`` refuse it. On the wire a character costs at most
:data:`MAX_BYTES_PER_CHAR` bytes: orjson writes a control character as ``\\u00XX`` (six
bytes) and anything else as at most four bytes of UTF-8, so the byte budget is six times the
character budget in the worst case; ``tests/unit/service/test_event_budget.py`` renders
every event of a maximal command and checks it against :data:`EVENT_BYTES_NEEDED`.
"""

from __future__ import annotations

from typing import Any

MAX_ID_CHARS = 256
MAX_JUSTIFICATION_CHARS = 4_000
MAX_ANSWERS = 25
MAX_ANSWER_CHARS = 2_000
MAX_DISPLAY_CHARS = 256
MAX_EMAIL_CHARS = 254  # RFC 5321's longest forward path, less its angle brackets
MAX_SHORT_TEXT_CHARS = 256
MAX_CALLOUT_INSTANCES = 10
MAX_CALLOUT_DETAIL_CHARS = 1_000
MAX_DURATION_CHARS = 64
MAX_RECURRENCE_BYTES = 2_048
MAX_DECISION_JUSTIFICATION_CHARS = 10_000

MAX_REASON_MESSAGE_CHARS = 2_000
MAX_REASON_DETAILS = 20
MAX_REASON_DETAIL_CHARS = 500

#: orjson's costliest character: a control character escaped as ``\\u00XX``.
MAX_BYTES_PER_CHAR = 6

#: The largest event accessflow produces, with headroom under Kafka's default
#: ``max.message.bytes`` (1,048,588) and aiokafka's default ``max_request_size`` (1,048,576)
#: for the record batch's own overhead and headers. ``ACCESSFLOW_MAX_EVENT_BYTES`` defaults
#: to it; start-up checks the events topic accepts it.
MAX_EVENT_BYTES = 1_000_000

#: The worst case the limits above allow, rounded up: the largest event the test renders
#: for a maximal command is below it, and ``ACCESSFLOW_MAX_EVENT_BYTES`` may not be set
#: lower (the guarantee would not hold).
EVENT_BYTES_NEEDED = 950_000

_ELLIPSIS = "…"


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters, the cut marked with an ellipsis."""
    if len(text) <= max_chars:
        return text
    return text[: max_chars - len(_ELLIPSIS)] + _ELLIPSIS


def bounded_reason(reason: dict[str, Any]) -> dict[str, Any]:
    """A reason (``code``, ``message``, ``details``) cut to the event budget: a reason quotes
    answers, catalog values and connectors' answers, none of which may grow an event past
    the topic's limit. What is cut is said, never silently dropped."""
    bounded = dict(reason)
    message = reason.get("message")
    if isinstance(message, str):
        bounded["message"] = truncate(message, MAX_REASON_MESSAGE_CHARS)
    details = reason.get("details")
    if isinstance(details, list):
        kept = [_bounded_detail(d) for d in details[:MAX_REASON_DETAILS]]
        if len(details) > MAX_REASON_DETAILS:
            kept[-1] = {"message": f"{len(details) - MAX_REASON_DETAILS + 1} more not shown"}
        bounded["details"] = kept
    return bounded


def _bounded_detail(detail: Any) -> Any:
    if not isinstance(detail, dict):
        return detail
    bounded = dict(detail)
    if isinstance(detail.get("message"), str):
        bounded["message"] = truncate(detail["message"], MAX_REASON_DETAIL_CHARS)
    if isinstance(detail.get("target"), str):
        bounded["target"] = truncate(detail["target"], MAX_ID_CHARS)
    return bounded
