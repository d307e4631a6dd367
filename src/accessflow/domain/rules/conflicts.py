"""Conflicts with what already exists: open requests, assignments, incompatible packages."""

from __future__ import annotations

from accessflow.domain.codes import ReasonCode
from accessflow.domain.rules.context import RequestContext
from accessflow.domain.rules.decision import deny
from accessflow.domain.view import DirectoryView


def check_conflicts(context: RequestContext, view: DirectoryView) -> None:
    target_id, package = context.target_id, context.package
    if target_id is None:
        return  # a subject not yet in the directory has no history to conflict with
    if view.has_open_request(target_id, package.id):
        deny(
            ReasonCode.EXISTING_OPEN_REQUEST,
            f"{target_id} already has an open request for access package {package.id}",
        )
    if not context.request_type.is_add:
        return
    held = {a.package_ref.casefold() for a in view.assignments_of(target_id) if a.package_ref}
    if package.id.casefold() in held:
        deny(ReasonCode.ALREADY_ASSIGNED, f"{target_id} already has access package {package.id}")
    check_incompatible(context, view, held | view.open_request_packages(target_id))


def check_incompatible(context: RequestContext, view: DirectoryView, held: set[str]) -> None:
    """``IncompatibleAccessPackage``: the target holds or requested a package that this one
    is incompatible with, in either direction (Graph lists it on one side only)."""
    package = context.package
    mine = {p.casefold() for p in package.incompatible_access_packages}
    for other_id in sorted(held):
        other = view.package(other_id)
        theirs = {p.casefold() for p in other.incompatible_access_packages} if other else set()
        if other_id.casefold() in mine or package.id.casefold() in theirs:
            deny(
                ReasonCode.INCOMPATIBLE_ACCESS_PACKAGE,
                f"access package {package.id} is incompatible with {other_id}, "
                "which the target holds or has requested",
            )
