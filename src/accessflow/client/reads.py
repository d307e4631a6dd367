"""The read side of the HTTP API from Python: packages, what requesting one takes, the
caller's assignments and counts (``docs/client.md``). Synchronous, over :class:`ApiClient`;
a Graph error raises ``click.ClickException`` with the error's one-line summary.

>>> reads = GraphReads(ApiClient("http://127.0.0.1:8000", token))   # doctest: +SKIP
>>> [p["displayName"] for p in reads.packages().value]              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from accessflow.client.http_cli import ApiClient

PACKAGE_EXPAND = "assignmentPolicies,catalog,resourceRoleScopes($expand=role,scope)"
ASSIGNMENT_EXPAND = "accessPackage,assignmentPolicy"


@dataclass(frozen=True)
class Page:
    """One page of a collection: its items, ``@odata.count`` if asked for, and the link to
    the next page (``None`` on the last)."""

    value: list[dict[str, Any]]
    count: int | None = None
    next_link: str | None = None


def _page(body: dict[str, Any]) -> Page:
    return Page(body.get("value", []), body.get("@odata.count"), body.get("@odata.nextLink"))


class GraphReads:
    def __init__(self, api: ApiClient) -> None:
        self._api = api

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self._api.call("GET", path, params=params).json()
        return body

    def packages(self, *, requestable: bool = False, top: int = 100, count: bool = False) -> Page:
        """The packages the caller may read; ``requestable``: only those they may request."""
        path = "/accessPackages"
        if requestable:
            path += "/filterByCurrentUser(on='allowedRequestor')"
        params: dict[str, Any] = {"$top": top, "$expand": "catalog"}
        if count:
            params["$count"] = "true"
        return _page(self._get(path, params))

    def package(self, package_id: str) -> dict[str, Any]:
        """One package with its readable policies, catalog and resource role scopes."""
        return self._get(f"/accessPackages/{package_id}", {"$expand": PACKAGE_EXPAND})

    def requirements(self, package_id: str, subject: str | None = None) -> list[dict[str, Any]]:
        """What requesting the package takes, one entry per policy the caller (or, asking on
        their behalf, ``subject``) may request through; empty when none."""
        body = {"subject": {"objectId": subject}} if subject else None
        path = f"/accessPackages/{package_id}/getApplicablePolicyRequirements"
        value: list[dict[str, Any]] = self._api.call("POST", path, json=body).json()["value"]
        return value

    def my_assignments(
        self, on: Literal["target", "createdBy"] = "target", *, top: int = 100, count: bool = False
    ) -> Page:
        """The caller's assignments (``target``: current and expired) or those they created."""
        params: dict[str, Any] = {"$top": top, "$expand": ASSIGNMENT_EXPAND}
        if count:
            params["$count"] = "true"
        return _page(self._get(f"/assignments/filterByCurrentUser(on='{on}')", params))

    def count(self, collection: str, filter_: str | None = None) -> int:
        """``GET /{collection}/$count``: e.g. ``count("assignmentRequests", "state eq
        'pendingApproval'")``."""
        params = {"$filter": filter_} if filter_ else {}
        return int(self._api.call("GET", f"/{collection}/$count", params=params).text)
