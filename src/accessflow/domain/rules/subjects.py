"""Resolving ``subjectSet``s to user ids through the directory."""

from __future__ import annotations

from collections.abc import Iterable

from accessflow.domain.models.subjects import GroupMembers, RequestorManager, SingleUser, SubjectSet
from accessflow.domain.view import DirectoryView


def manager_at_level(view: DirectoryView, user_id: str, level: int) -> str | None:
    """The manager ``level`` steps up from ``user_id`` (1 = direct manager)."""
    current: str | None = user_id
    for _ in range(max(level, 1)):
        if current is None:
            return None
        current = view.manager_of(current)
    return current


def resolve_subjects(
    view: DirectoryView, subject_sets: Iterable[SubjectSet], target_id: str | None
) -> frozenset[str]:
    """The user ids in ``subject_sets``; ``requestorManager`` is relative to the target.

    Sponsors, connected organisations and attribute rules are not modelled by accessflow's
    directory and resolve to nobody, so a policy relying on them falls back where it can.
    """
    users: set[str] = set()
    for subject_set in subject_sets:
        if isinstance(subject_set, SingleUser):
            users.add(subject_set.user_id)
        elif isinstance(subject_set, GroupMembers):
            users.update(view.group_members(subject_set.group_id))
        elif isinstance(subject_set, RequestorManager) and target_id is not None:
            manager = manager_at_level(view, target_id, subject_set.manager_level)
            if manager is not None:
                users.add(manager)
    return frozenset(users)


def contains(ids: Iterable[str], user_id: str) -> bool:
    folded = user_id.casefold()
    return any(i.casefold() == folded for i in ids)


def without(ids: frozenset[str], excluded: Iterable[str | None]) -> frozenset[str]:
    gone = {e.casefold() for e in excluded if e is not None}
    return frozenset(i for i in ids if i.casefold() not in gone)
