"""The grant state machine: the table is the whole machine, walked step by step."""

from __future__ import annotations

import itertools

import pytest

from accessflow.domain.codes import ReasonCode
from accessflow.domain.errors import IllegalTransition
from accessflow.domain.grant_states import (
    ALLOWED,
    DONE,
    FAILED_STATES,
    FINAL_STATES,
    GAVE_UP,
    WAITING,
    GrantState,
    advance,
    granted,
    revoked,
)

G = GrantState
EXPECTED_TABLE = {
    (None, G.PENDING),
    (None, G.DELIVERED),
    (G.PENDING, G.PENDING),
    (G.PENDING, G.DELIVERED),
    (G.PENDING, G.FAILED),
    (G.PENDING, G.REVOKING),
    (G.FAILED, G.PENDING),
    (G.FAILED, G.REVOKING),
    (G.DELIVERED, G.REVOKING),
    (G.DELIVERED, G.REVOKED),
    (G.REVOKING, G.REVOKING),
    (G.REVOKING, G.REVOKED),
    (G.REVOKING, G.REVOKE_FAILED),
    (G.REVOKE_FAILED, G.REVOKING),
}


def test_table_is_exactly_the_documented_table() -> None:
    assert set(ALLOWED) == EXPECTED_TABLE


@pytest.mark.parametrize(("source", "target"), list(itertools.product([None, *G], G)))
def test_every_pair_either_moves_or_raises(source: GrantState | None, target: GrantState) -> None:
    if (source, target) in EXPECTED_TABLE:
        assert advance(source, target) is target
    else:
        with pytest.raises(IllegalTransition) as raised:
            advance(source, target)
        assert raised.value.code is ReasonCode.ILLEGAL_TRANSITION
        assert (raised.value.source, raised.value.target) == (source, target)


def test_the_stored_values_are_the_columns_values() -> None:
    assert [g.value for g in G] == [
        "pending",
        "delivered",
        "failed",
        "revoking",
        "revoked",
        "revokeFailed",
    ]


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_final_states_have_no_way_out(state: GrantState) -> None:
    assert not [target for (source, target) in ALLOWED if source is state]


@pytest.mark.parametrize("state", sorted(WAITING))
def test_a_waiting_grant_can_finish_retry_or_give_up(state: GrantState) -> None:
    for target in (DONE[state], GAVE_UP[state], state):
        assert advance(state, target) is target
    assert GAVE_UP[state] in FAILED_STATES


@pytest.mark.parametrize("directory", [True, False])
def test_walk_grant_then_revoke(directory: bool) -> None:
    """A membership is added and removed at once; an outside grant waits each way."""
    state = advance(None, granted(directory=directory))
    if not directory:
        assert state in WAITING
        state = advance(state, DONE[state])
    assert state is G.DELIVERED
    state = advance(state, revoked(directory=directory))
    if not directory:
        assert state in WAITING
        state = advance(state, DONE[state])
    assert state is G.REVOKED


def test_walk_failure_reprocess_failure_removal() -> None:
    """A failed grant is sent again by a reprocess, and revoked by a removal all the same."""
    state = advance(None, G.PENDING)
    state = advance(state, GAVE_UP[state])
    state = advance(state, G.PENDING)
    state = advance(state, GAVE_UP[state])
    state = advance(state, G.REVOKING)
    state = advance(state, GAVE_UP[state])
    assert state is G.REVOKE_FAILED
    assert advance(state, G.REVOKING) is G.REVOKING
