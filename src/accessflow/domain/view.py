"""The read-only view of the world that the rules decide against, and an in-memory one.

The worker implements :class:`DirectoryView` over PostgreSQL; :class:`InMemoryView` serves
unit tests and the worker's in-memory fake. Ids are compared case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple, Protocol

from accessflow.domain.catalog import Catalog, fold
from accessflow.domain.models.packages import (
    AccessPackage,
    AccessPackageCatalog,
    DirectoryGroup,
    DirectoryUser,
)
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import AccessPackageAssignment


class OpenRequest(NamedTuple):
    """A request still in flight (submitted, pendingApproval, scheduled, delivering)."""

    request_id: str
    target_id: str
    access_package_id: str


class DirectoryView(Protocol):
    """What the rules may read. Absent things are ``None`` (or empty), never an error."""

    def user(self, user_id: str) -> DirectoryUser | None: ...

    def user_by_mail(self, mail: str) -> DirectoryUser | None: ...

    def manager_of(self, user_id: str) -> str | None: ...

    def group(self, group_id: str) -> DirectoryGroup | None: ...

    def group_members(self, group_id: str) -> frozenset[str]: ...

    def catalog(self, catalog_id: str) -> AccessPackageCatalog | None: ...

    def package(self, package_id: str) -> AccessPackage | None: ...

    def policy(self, policy_id: str) -> AccessPackageAssignmentPolicy | None: ...

    def policies_of(self, package_id: str) -> Sequence[AccessPackageAssignmentPolicy]: ...

    def assignment(self, assignment_id: str) -> AccessPackageAssignment | None: ...

    def assignments_of(self, target_id: str) -> Sequence[AccessPackageAssignment]:
        """The target's live (not expired) assignments."""
        ...

    def has_open_request(self, target_id: str, package_id: str) -> bool: ...

    def open_request_packages(self, target_id: str) -> frozenset[str]:
        """Ids of the packages the target has open requests for."""
        ...


class InMemoryView:
    """A :class:`DirectoryView` over a loaded :class:`Catalog` plus assignments and open
    requests held in dicts; the ``put``/``remove`` methods let a fake worker keep it current."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        assignments: Iterable[AccessPackageAssignment] = (),
        open_requests: Iterable[OpenRequest] = (),
    ) -> None:
        self._catalog = catalog
        self._by_mail = {fold(u.mail): u for u in catalog.users.values() if u.mail}
        self._assignments: dict[str, AccessPackageAssignment] = {}
        self._open: dict[str, OpenRequest] = {}
        # Indexed by target: a batch of n creates would otherwise scan n² times.
        self._assignments_by_target: dict[str, set[str]] = {}
        self._open_by_target: dict[str, set[str]] = {}
        for assignment in assignments:
            self.put_assignment(assignment)
        for request in open_requests:
            self.put_open_request(request)

    # Mutators, for fakes.
    def put_assignment(self, assignment: AccessPackageAssignment) -> None:
        if assignment.id is None:
            raise ValueError("an assignment in a view needs an id")
        key = fold(assignment.id)
        self.remove_assignment(key)
        self._assignments[key] = assignment
        if assignment.target_ref is not None:
            self._assignments_by_target.setdefault(fold(assignment.target_ref), set()).add(key)

    def remove_assignment(self, assignment_id: str) -> None:
        old = self._assignments.pop(fold(assignment_id), None)
        if old is not None and old.target_ref is not None:
            self._assignments_by_target.get(fold(old.target_ref), set()).discard(
                fold(assignment_id)
            )

    def put_open_request(self, request: OpenRequest) -> None:
        key = fold(request.request_id)
        self.close_request(key)
        self._open[key] = request
        self._open_by_target.setdefault(fold(request.target_id), set()).add(key)

    def close_request(self, request_id: str) -> None:
        old = self._open.pop(fold(request_id), None)
        if old is not None:
            self._open_by_target.get(fold(old.target_id), set()).discard(fold(request_id))

    # DirectoryView.
    def user(self, user_id: str) -> DirectoryUser | None:
        return self._catalog.users.get(fold(user_id))

    def user_by_mail(self, mail: str) -> DirectoryUser | None:
        return self._by_mail.get(fold(mail))

    def manager_of(self, user_id: str) -> str | None:
        user = self.user(user_id)
        return user.manager_id if user else None

    def group(self, group_id: str) -> DirectoryGroup | None:
        return self._catalog.groups.get(fold(group_id))

    def group_members(self, group_id: str) -> frozenset[str]:
        group = self.group(group_id)
        return frozenset(group.members) if group else frozenset()

    def catalog(self, catalog_id: str) -> AccessPackageCatalog | None:
        return self._catalog.catalogs.get(fold(catalog_id))

    def package(self, package_id: str) -> AccessPackage | None:
        return self._catalog.access_packages.get(fold(package_id))

    def policy(self, policy_id: str) -> AccessPackageAssignmentPolicy | None:
        return self._catalog.assignment_policies.get(fold(policy_id))

    def policies_of(self, package_id: str) -> Sequence[AccessPackageAssignmentPolicy]:
        wanted = fold(package_id)
        return [
            p
            for p in self._catalog.assignment_policies.values()
            if p.package_id is not None and fold(p.package_id) == wanted
        ]

    def assignment(self, assignment_id: str) -> AccessPackageAssignment | None:
        return self._assignments.get(fold(assignment_id))

    def assignments_of(self, target_id: str) -> Sequence[AccessPackageAssignment]:
        keys = self._assignments_by_target.get(fold(target_id), set())
        return [a for k in sorted(keys) if (a := self._assignments[k]).is_live]

    def has_open_request(self, target_id: str, package_id: str) -> bool:
        return fold(package_id) in self.open_request_packages(target_id)

    def open_request_packages(self, target_id: str) -> frozenset[str]:
        keys = self._open_by_target.get(fold(target_id), set())
        return frozenset(fold(self._open[k].access_package_id) for k in keys)
