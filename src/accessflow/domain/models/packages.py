"""Catalogs, access packages, resource role scopes, and the directory (users, groups).

Users and groups are not entitlement-management resources; they are the slice of a
directory that the rules need (spec §2.8, catalog file format in ``docs/domain.md``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from accessflow.domain.enums import CatalogState, CatalogType, UserType
from accessflow.domain.models.base import EntityRef, InboundModel, UtcDateTime
from accessflow.domain.models.text import DisplayText, EmailText, IdText

#: ``originSystem`` of a resource that is an Entra ID group; its scope's ``originId`` is the
#: group id, and delivery means group membership.
GROUP_ORIGIN_SYSTEM = "AadGroup"


class AccessPackageCatalog(InboundModel):
    id: str
    display_name: str | None = None
    description: str | None = None
    state: CatalogState = CatalogState.PUBLISHED
    is_externally_visible: bool = False
    catalog_type: CatalogType = CatalogType.USER_MANAGED
    created_date_time: UtcDateTime | None = None
    modified_date_time: UtcDateTime | None = None


class AccessPackageResource(InboundModel):
    id: str | None = None
    origin_id: str | None = None
    origin_system: str | None = None
    display_name: str | None = None
    description: str | None = None


class AccessPackageResourceRole(InboundModel):
    id: str | None = None
    origin_id: str | None = None
    origin_system: str | None = None
    display_name: str | None = None
    description: str | None = None
    resource: AccessPackageResource | None = None


class AccessPackageResourceScope(InboundModel):
    id: str | None = None
    origin_id: str
    origin_system: str
    is_root_scope: bool = True
    display_name: str | None = None
    description: str | None = None


class AccessPackageResourceRoleScope(InboundModel):
    """One grant that delivering the package performs: ``role`` on ``scope``."""

    id: str | None = None
    role: AccessPackageResourceRole
    scope: AccessPackageResourceScope
    created_date_time: UtcDateTime | None = None

    @property
    def group_id(self) -> str | None:
        """The group whose membership this grants, when the resource is a group."""
        if self.scope.origin_system == GROUP_ORIGIN_SYSTEM:
            return self.scope.origin_id
        return None


class AccessPackage(InboundModel):
    """An access package. ``catalogId`` (catalog-file form) or ``catalog.id`` names its
    catalog; ``incompatibleAccessPackages`` is a list of ids (or ``{"id": …}`` objects).
    Its id and name are copied into every request for it, so they are bounded."""

    id: IdText
    display_name: DisplayText | None = None
    description: str | None = None
    is_hidden: bool = False
    catalog_id: str | None = None
    catalog: EntityRef | None = None
    resource_role_scopes: list[AccessPackageResourceRoleScope] = Field(default_factory=list)
    incompatible_access_packages: list[str] = Field(default_factory=list)
    created_date_time: UtcDateTime | None = None
    modified_date_time: UtcDateTime | None = None

    @field_validator("incompatible_access_packages", mode="before")
    @classmethod
    def _ids_from_refs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [item.get("id") if isinstance(item, dict) else item for item in value]
        return value

    @property
    def catalog_ref(self) -> str | None:
        if self.catalog_id is not None:
            return self.catalog_id
        return self.catalog.id if self.catalog else None

    @model_validator(mode="after")
    def _one_catalog(self) -> AccessPackage:
        if (
            self.catalog_id is not None
            and self.catalog is not None
            and self.catalog.id.casefold() != self.catalog_id.casefold()
        ):
            raise ValueError("catalogId and catalog.id disagree")
        return self


class DirectoryUser(InboundModel):
    """Its name and mail are copied into every request it makes (``requestor``), so they are
    bounded like a client's."""

    id: IdText
    display_name: DisplayText | None = None
    mail: EmailText | None = None
    user_type: UserType = UserType.MEMBER
    manager_id: str | None = None


class DirectoryGroup(InboundModel):
    id: str
    display_name: str | None = None
    members: list[str] = Field(default_factory=list)
