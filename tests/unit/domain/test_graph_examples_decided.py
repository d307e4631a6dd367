"""Graph's nine documented create examples, replayed against examples/catalog.yaml."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from domain_support import (
    ALEX,
    GRAPH_EXAMPLES,
    KAYO,
    LEE,
    MEGAN,
    NESTOR,
    NOW,
    caller,
)

from accessflow.domain import (
    Caller,
    InMemoryView,
    RequestState,
    evaluate_create,
    parse_create_request,
)

S = RequestState
ADMIN = caller(NESTOR, admin=True)
# (example, caller, now, expected next state). Examples 7 and 8 carry 2023/2024 schedules,
# so they are decided at a time when those schedules were still ahead.
CASES = [
    ("01-admin-add-user-in-directory", ADMIN, NOW, S.DELIVERING),
    ("02-admin-remove", ADMIN, NOW, S.DELIVERING),
    ("03-user-add-with-answers", caller(KAYO), NOW, S.PENDING_APPROVAL),
    ("04-user-add-with-justification", caller(ALEX), NOW, S.DELIVERING),
    ("05-admin-add-user-not-in-directory", ADMIN, NOW, S.DELIVERING),
    ("06-admin-update-answers", ADMIN, NOW, S.DELIVERING),
    ("07-admin-update-expiration", ADMIN, datetime(2023, 5, 1, tzinfo=UTC), S.SCHEDULED),
    (
        "08-user-update-answers-and-expiration",
        caller(KAYO),
        datetime(2024, 9, 19, tzinfo=UTC),
        S.DELIVERING,
    ),
    ("09-manager-on-behalf-of-direct-report", caller(LEE), NOW, S.DELIVERING),
]


@pytest.mark.parametrize(("name", "who", "now", "state"), CASES, ids=[c[0] for c in CASES])
def test_graph_example_is_allowed_against_the_example_catalog(
    view: InMemoryView, name: str, who: Caller, now: datetime, state: RequestState
) -> None:
    body = parse_create_request((GRAPH_EXAMPLES / f"{name}.json").read_bytes())
    decision = evaluate_create(body, who, view, now)
    assert decision.allowed, f"{decision.reason}: {decision.message}"
    assert decision.next_state is state


def test_example_1_targets_kayo_not_megan(view: InMemoryView) -> None:
    body = parse_create_request(
        (GRAPH_EXAMPLES / "01-admin-add-user-in-directory.json").read_bytes()
    )
    decision = evaluate_create(body, ADMIN, view, NOW)
    assert decision.resolved is not None
    assert decision.resolved.target_id == KAYO  # Graph's GUID, not the wire contract's Megan
    assert decision.resolved.target_id != MEGAN
