"""Side by side: one mixed scenario through ``handle_batch`` on the in-memory store and on
PostgreSQL records exactly the same history, events, ledger, requests and deliveries."""

from __future__ import annotations

from typing import Any

import pytest
from command_support import (
    ALEX,
    FINANCE_GROUP,
    ISAIAH,
    KAYO,
    NOW,
    PATTI,
    SALES_GROUP,
    admin_remove,
    cancel,
    create,
    decide,
    finance_for_megan,
    rejected,
    reprocess,
    rid,
    sales_for,
    stage_id,
)
from store_support import Harness, normalised_history, normalised_outbox

from accessflow.domain.models.requests import to_graph
from accessflow.service.grants import assignment_id_for
from accessflow.service.handlers import handle_batch
from accessflow.service.types import Item

pytestmark = pytest.mark.integration


def _finance_for_kayo() -> dict[str, Any]:
    body = finance_for_megan()
    body["assignment"]["targetId"] = KAYO
    return body


SCENARIO: list[list[Item]] = [
    [
        create("c1", rid(1), sales_for()),
        create("c1", rid(1), sales_for()),
        create("c2", rid(2), finance_for_megan()),
        create("c3", rid(3), finance_for_megan()),  # ExistingOpenRequest
        rejected("r1", rid(9)),
    ],
    [
        decide("d1", rid(2), stage_id(rid(2), 0), ALEX),
        cancel("x1", rid(1)),  # delivered: IllegalTransition
        create("c4", rid(4), sales_for(KAYO), requestor=ALEX),  # a manager for a report
    ],
    [
        decide("d2", rid(2), stage_id(rid(2), 1), ISAIAH),
        decide("d2b", rid(2), stage_id(rid(2), 1), ISAIAH),  # no longer pending
        create("c5", rid(5), admin_remove(str(assignment_id_for(rid(1)))), requestor=PATTI),
        create(
            "c6", rid(6), admin_remove(str(assignment_id_for(rid(1)))), requestor=PATTI, admin=True
        ),
        reprocess("p1", rid(8)),  # RequestNotFound
    ],
    [
        create("c7", rid(7), _finance_for_kayo(), requestor=KAYO),
        cancel("x2", rid(7), by=KAYO),
        cancel("x3", rid(7), by=KAYO),  # already canceled
    ],
]


async def _record(harness: Harness) -> dict[str, Any]:
    outcomes = []
    for batch in SCENARIO:
        done, _ = await handle_batch(batch, harness.uow, NOW)
        outcomes.append(
            sorted((o.command_id, o.outcome, o.from_state, o.to_state, o.reason_code) for o in done)
        )
    probe = harness.probe
    requests = {}
    for n in range(1, 10):
        stored = await probe.request(rid(n))
        requests[n] = stored and (
            to_graph(stored.request),
            stored.sequence,
            stored.target_id,
            stored.access_package_id,
            stored.requestor_id,
            stored.assignment_id,
            stored.approval,
        )
    assignments = {}
    for n in (1, 2, 4):
        aid = str(assignment_id_for(rid(n)))
        found = await probe.assignment(aid)
        assignments[n] = (found and to_graph(found), await probe.grants_of(aid))
    return {
        "outcomes": outcomes,
        "history": [normalised_history(await probe.history_of(rid(n))) for n in range(1, 10)],
        "outbox": normalised_outbox(await probe.outbox_events()),
        "processed": await probe.processed_commands(),
        "requests": requests,
        "assignments": assignments,
        "members": [
            await probe.members_of(g, s)
            for g in (SALES_GROUP, FINANCE_GROUP)
            for s in ("catalog", "accessflow")
        ],
    }


async def test_both_adapters_record_the_same_scenario_identically(
    memory_store: Harness, postgres_store: Harness
) -> None:
    """Every observable record matches, and the scenario did what it was meant to."""
    memory = await _record(memory_store)
    postgres = await _record(postgres_store)
    for part in memory:
        assert memory[part] == postgres[part], part
    codes = {o[0]: o[4] for batch in memory["outcomes"] for o in batch}
    assert codes == {
        "c1": None,
        "c2": None,
        "c3": "ExistingOpenRequest",
        "r1": "InvalidCommand",
        "d1": None,
        "x1": "IllegalTransition",
        "c4": None,
        "d2": None,
        "d2b": "IllegalTransition",
        "c5": "RequestorNotAllowed",
        "c6": None,
        "p1": "RequestNotFound",
        "c7": None,
        "x2": "CanceledByRequestor",
        "x3": "IllegalTransition",
    }
    # 20 state changes (c1 3, c2 2, c3 2, c4 3, d2 2, c5 2, c6 3, c7 2, x2 1) + 5 rejections
    # + 4 assignment events (c1, c4 and c6 delivered one each; c6's removal expired one).
    assert len(memory["outbox"]) == 29
