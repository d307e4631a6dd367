"""The grant state machine: where one resource role scope of an assignment stands.

Rules (after h11's ``_state.py``, like :mod:`accessflow.domain.states`):

* :data:`TRANSITIONS` is the whole machine. :func:`advance` refuses a move not in it with
  :class:`IllegalTransition`; grant rows are frozen, so nothing changes.
* A group membership (the built-in directory connector) is granted and revoked in the same
  transaction as the request's move: it goes straight to ``delivered`` / ``revoked``.
* Every other resource *waits* (``pending``, ``revoking``) for the delivery loop, which
  calls its connector outside any transaction and moves it on: done, failed for good, or
  (the same state, one round more) due again after a backoff.
* A removal revokes whatever is not revoked yet, a grant that failed included (the far side
  may have half-done it); a reprocess sends again only what failed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from accessflow.domain.errors import IllegalTransition


class GrantState(StrEnum):
    PENDING = "pending"  # a grant waits for its connector
    DELIVERED = "delivered"
    FAILED = "failed"
    REVOKING = "revoking"  # a revoke waits for its connector
    REVOKED = "revoked"
    REVOKE_FAILED = "revokeFailed"


G = GrantState


class Transition(NamedTuple):
    source: GrantState | None  # None: the grant row does not exist yet
    target: GrantState
    when: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, G.PENDING, "outside grant written"),
    Transition(None, G.DELIVERED, "membership added"),
    Transition(G.PENDING, G.PENDING, "retry later"),
    Transition(G.PENDING, G.DELIVERED, "connector done"),
    Transition(G.PENDING, G.FAILED, "refused or out of rounds"),
    Transition(G.PENDING, G.REVOKING, "removed while waiting"),
    Transition(G.FAILED, G.PENDING, "reprocess"),
    Transition(G.FAILED, G.REVOKING, "removed"),
    Transition(G.DELIVERED, G.REVOKING, "removed"),
    Transition(G.DELIVERED, G.REVOKED, "membership removed"),
    Transition(G.REVOKING, G.REVOKING, "retry later, or removed again"),
    Transition(G.REVOKING, G.REVOKED, "connector done"),
    Transition(G.REVOKING, G.REVOKE_FAILED, "refused or out of rounds"),
    Transition(G.REVOKE_FAILED, G.REVOKING, "reprocess, or removed again"),
)

ALLOWED: frozenset[tuple[GrantState | None, GrantState]] = frozenset(
    (t.source, t.target) for t in TRANSITIONS
)
#: The delivery loop calls a connector for these.
WAITING = frozenset({G.PENDING, G.REVOKING})
#: What a reprocess sends again, and what makes a request (partially) fail.
FAILED_STATES = frozenset({G.FAILED, G.REVOKE_FAILED})
#: No transition leaves this.
FINAL_STATES = frozenset({G.REVOKED})
#: Where a waiting grant goes when its connector is done, or gives up for good.
DONE: dict[GrantState, GrantState] = {G.PENDING: G.DELIVERED, G.REVOKING: G.REVOKED}
GAVE_UP: dict[GrantState, GrantState] = {G.PENDING: G.FAILED, G.REVOKING: G.REVOKE_FAILED}


def is_allowed(source: GrantState | None, target: GrantState) -> bool:
    return (source, target) in ALLOWED


def advance(source: GrantState | None, target: GrantState) -> GrantState:
    """``target``, when the table allows the move from ``source``; else
    :class:`IllegalTransition`."""
    if (source, target) not in ALLOWED:
        raise IllegalTransition(source, target, f"a grant {source or '(new)'} cannot be {target}")
    return target


def granted(*, directory: bool) -> GrantState:
    """A grant's first state: a membership is added at once, the rest waits."""
    return G.DELIVERED if directory else G.PENDING


def revoked(*, directory: bool) -> GrantState:
    """A revoke's state: a membership is removed at once, the rest waits."""
    return G.REVOKED if directory else G.REVOKING
