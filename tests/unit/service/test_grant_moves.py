"""Writing grants goes through the grant state machine: every row's move is checked before
any is written, and a reprocess sends again only what failed in its own direction."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from command_support import MEGAN, NOW, SALES, catalog_with_outside_resources

from accessflow.domain.errors import IllegalTransition
from accessflow.domain.grant_states import GrantState
from accessflow.domain.models.packages import AccessPackage
from accessflow.service.grants import failed_keys, grant_all
from accessflow.service.ports import Changes, Grant

G = GrantState
ASSIGNMENT = uuid.UUID(int=1)
REQUEST = uuid.UUID(int=2)


def package() -> AccessPackage:
    return catalog_with_outside_resources("Alpha", "Beta").access_packages[SALES]


def grants(changes: Changes) -> dict[str, GrantState]:
    return {g.resource_scope_id: g.state for g in changes.grants}


def test_a_first_grant_writes_every_scope_pending() -> None:
    changes = Changes()
    grant_all(package(), MEGAN, ASSIGNMENT, REQUEST, changes, NOW)
    assert grants(changes) == {"Alpha-scope": G.PENDING, "Beta-scope": G.PENDING}


def test_a_move_the_table_refuses_writes_no_row_at_all() -> None:
    """Granting again a scope already delivered is refused, and the other scope, whose move
    alone would be legal, is not written either."""
    changes = Changes()
    written = grant_all(package(), MEGAN, ASSIGNMENT, REQUEST, changes, NOW)
    before = {g.resource_scope_id: g for g in written}
    before["Beta-scope"] = replace(before["Beta-scope"], state=G.DELIVERED)
    again = Changes()
    with pytest.raises(IllegalTransition):
        grant_all(package(), MEGAN, ASSIGNMENT, REQUEST, again, NOW, granted_before=before)
    assert again.grants == []
    assert again.memberships_added == []


@pytest.mark.parametrize(
    ("removal", "sent_again"), [(False, {"Alpha-scope"}), (True, {"Beta-scope"})]
)
def test_a_reprocess_sends_again_what_failed_in_its_own_direction(
    removal: bool, sent_again: set[str]
) -> None:
    rows = [
        Grant(ASSIGNMENT, "Alpha-scope", "Alpha", "a", G.FAILED),
        Grant(ASSIGNMENT, "Beta-scope", "Beta", "b", G.REVOKE_FAILED),
        Grant(ASSIGNMENT, "Gamma-scope", "Gamma", "c", G.DELIVERED),
    ]
    assert failed_keys(rows, removal=removal) == sent_again
