"""Who may read which catalog object: the read rule of ``…/accessPackages``,
``…/assignmentPolicies`` and ``…/catalogs`` (docs/api.md, "Reading the catalog").

An admin reads everything. Anyone else reads:

* a **package** they could request for themselves (one of its policies admits them, by the
  worker's own eligibility rules) or hold a live assignment of; hidden packages
  (``isHidden``) are left out of listings unless held, but answer by id;
* a **policy** they could request through, or hold a live assignment through; a policy
  they may not use is never shown, so its approvers are not either, and a stage whose
  ``approverInformationVisibility`` is ``notVisible`` has its approvers removed;
* a **catalog** holding at least one package they may read.

Whatever a caller may not read answers 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from accessflow.adapters.postgres.pool import Conn
from accessflow.adapters.postgres.view import load_view
from accessflow.api.auth import Principal
from accessflow.api.deps import ApiContext
from accessflow.api.errors import ApiError
from accessflow.domain.catalog import fold
from accessflow.domain.codes import ReasonCode
from accessflow.domain.errors import DomainError
from accessflow.domain.models.packages import AccessPackage, AccessPackageCatalog
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.rules.applicable import applicable_policies
from accessflow.domain.view import DirectoryView
from accessflow.service.read_model import CatalogObjects


@dataclass
class CatalogAccess:
    """The catalog as one caller may read it."""

    objects: CatalogObjects
    caller: Principal
    view: DirectoryView
    _requestable: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.caller.is_admin

    def requestable(self, package_id: str) -> frozenset[str]:
        """Folded ids of the policies the caller may request ``package_id`` through."""
        key = fold(package_id)
        if key not in self._requestable:
            found = applicable_policies(package_id, self.caller.caller, self.view)
            self._requestable[key] = frozenset(fold(p.id) for p in found)
        return self._requestable[key]

    @cached_property
    def held(self) -> dict[str, set[str]]:
        """Folded package id -> folded ids of the policies of the caller's live assignments."""
        out: dict[str, set[str]] = {}
        for assignment in self.view.assignments_of(self.caller.object_id):
            if assignment.package_ref:
                policies = out.setdefault(fold(assignment.package_ref), set())
                if assignment.policy_ref:
                    policies.add(fold(assignment.policy_ref))
        return out

    def may_read_package(self, package: AccessPackage) -> bool:
        return self.is_admin or fold(package.id) in self.held or bool(self.requestable(package.id))

    def listed_package(self, package: AccessPackage) -> bool:
        """In listings: readable, and not hidden unless held (or the caller is an admin)."""
        if self.is_admin:
            return True
        if fold(package.id) in self.held:
            return True
        return not package.is_hidden and bool(self.requestable(package.id))

    def may_read_policy(self, policy: AccessPackageAssignmentPolicy) -> bool:
        if self.is_admin:
            return True
        package_id = fold(policy.package_id or "")
        if fold(policy.id) in self.held.get(package_id, set()):
            return True
        return bool(package_id) and fold(policy.id) in self.requestable(package_id)

    def may_read_catalog(self, catalog: AccessPackageCatalog) -> bool:
        return self.is_admin or any(self.listed_package(p) for p in self.packages_in(catalog.id))

    # Look-ups.
    def packages(self) -> list[AccessPackage]:
        return sorted(self.objects.packages.values(), key=lambda p: fold(p.id))

    def packages_in(self, catalog_id: str) -> list[AccessPackage]:
        return [p for p in self.packages() if fold(p.catalog_ref or "") == fold(catalog_id)]

    def policies(self) -> list[AccessPackageAssignmentPolicy]:
        return sorted(self.objects.policies.values(), key=lambda p: fold(p.id))

    def policies_of(self, package_id: str) -> list[AccessPackageAssignmentPolicy]:
        wanted = fold(package_id)
        return [p for p in self.policies() if fold(p.package_id or "") == wanted]

    def catalogs(self) -> list[AccessPackageCatalog]:
        return sorted(self.objects.catalogs.values(), key=lambda c: fold(c.id))

    def package(self, package_id: str) -> AccessPackage:
        """The package, or 404 when it does not exist or the caller may not read it."""
        package = self.objects.packages.get(fold(package_id))
        if package is None or not self.may_read_package(package):
            raise DomainError(
                ReasonCode.ACCESS_PACKAGE_NOT_FOUND, f"no access package {package_id}"
            )
        return package

    def policy(self, policy_id: str) -> AccessPackageAssignmentPolicy:
        policy = self.objects.policies.get(fold(policy_id))
        if policy is None or not self.may_read_policy(policy):
            raise DomainError(ReasonCode.POLICY_NOT_FOUND, f"no assignment policy {policy_id}")
        return policy

    def catalog(self, catalog_id: str) -> AccessPackageCatalog:
        catalog = self.objects.catalogs.get(fold(catalog_id))
        if catalog is None or not self.may_read_catalog(catalog):
            raise ApiError(404, "CatalogNotFound", f"no catalog {catalog_id}")
        return catalog


async def catalog_access(
    ctx: ApiContext, conn: Conn, caller: Principal, others: Iterable[str] = ()
) -> CatalogAccess:
    """The catalog for ``caller``, with the directory slice the rules need about the caller
    (and ``others``: a target named by an on-behalf requestor)."""
    objects = await ctx.catalog.catalog_objects(conn)
    view = await load_view(conn, objects, {caller.object_id, *others}, [], [])
    return CatalogAccess(objects, caller, view)


async def caller_access(ctx: ApiContext, caller: Principal) -> CatalogAccess:
    """:func:`catalog_access` on a connection of its own (a read route needs nothing else)."""
    async with ctx.db.acquire() as conn:
        return await catalog_access(ctx, conn, caller)
