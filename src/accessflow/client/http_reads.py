"""``accessflow packages list|show|requirements`` and ``accessflow assignments mine``: what a
self-service portal shows, over the HTTP API (:class:`~accessflow.client.reads.GraphReads`).
Readable tables on a terminal; JSON lines otherwise (``--json`` forces JSON)."""

from __future__ import annotations

from typing import Any

import click

from accessflow.client.http_cli import ApiClient, _api_options, _dumps, echo_rows, table
from accessflow.client.reads import GraphReads, Page

_PACKAGE_COLUMNS = ("id", "displayName", "catalog", "description")
_POLICY_COLUMNS = ("id", "displayName", "allowedTargetScope", "approval")
_ASSIGNMENT_COLUMNS = ("id", "accessPackage", "state", "status", "ends", "expiredDateTime")


def echo_page(page: Page, columns: tuple[str, ...], as_json: bool, count: bool, noun: str) -> None:
    body = {"value": page.value, "@odata.count": page.count, "@odata.nextLink": page.next_link}
    echo_rows(body, columns, as_json, counted=count, noun=noun)


def _name(value: Any) -> Any:
    return value.get("displayName") if isinstance(value, dict) else value


@click.group()
def packages() -> None:
    """Access packages the caller may read or request, through the HTTP API."""


@packages.command("list")
@click.option("--requestable", is_flag=True, help="Only packages the caller may request.")
@click.option("--top", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--count", is_flag=True, help="Also show how many there are in all.")
@_api_options
def packages_list(api: ApiClient, as_json: bool, requestable: bool, top: int, count: bool) -> None:
    """List the access packages the caller may read (an admin token: all)."""
    page = GraphReads(api).packages(requestable=requestable, top=top, count=count)
    if not as_json:
        rows = [{**p, "catalog": _name(p.get("catalog"))} for p in page.value]
        page = Page(rows, page.count, page.next_link)
    echo_page(page, _PACKAGE_COLUMNS, as_json, count, "packages")


@packages.command("show")
@click.argument("package_id")
@_api_options
def packages_show(api: ApiClient, as_json: bool, package_id: str) -> None:
    """One access package: its catalog, the policies the caller may use, what it grants."""
    body = GraphReads(api).package(package_id)
    body.pop("@odata.context", None)
    if as_json:
        click.echo(_dumps(body))
        return
    for key in ("id", "displayName", "description", "isHidden"):
        click.echo(f"{key + ':':<14}{body.get(key) if body.get(key) is not None else '—'}")
    click.echo(f"{'catalog:':<14}{_name(body.get('catalog')) or '—'}")
    policies = [
        {**p, "approval": (p.get("requestApprovalSettings") or {}).get("isApprovalRequiredForAdd")}
        for p in body.get("assignmentPolicies") or []
    ]
    click.echo("\npolicies you may read:\n" + table(policies, _POLICY_COLUMNS))
    grants = [
        {"role": _name(s.get("role")), "scope": (s.get("scope") or {}).get("originId")}
        for s in body.get("resourceRoleScopes") or []
    ]
    click.echo("\ngrants:\n" + table(grants, ("role", "scope")))


@packages.command("requirements")
@click.argument("package_id")
@click.option("--for", "subject", help="Ask on behalf of this user (e.g. a direct report).")
@_api_options
def packages_requirements(
    api: ApiClient, as_json: bool, package_id: str, subject: str | None
) -> None:
    """What requesting PACKAGE_ID takes: per policy you may use, approval, justification,
    schedule and the questions to answer."""
    found = GraphReads(api).requirements(package_id, subject)
    if as_json:
        for entry in found:
            click.echo(_dumps(entry))
        return
    if not found:
        click.echo("No policy of this package lets you request it.")
    for entry in found:
        click.echo(describe_requirements(entry))


def describe_requirements(entry: dict[str, Any]) -> str:
    expiration = (entry.get("schedule") or {}).get("expiration") or {}
    lines = [
        f"policy {entry.get('policyDisplayName') or '—'} ({entry.get('policyId')})",
        f"  approval required:       {'yes' if entry.get('isApprovalRequiredForAdd') else 'no'}",
        f"  justification required:  "
        f"{'yes' if entry.get('isRequestorJustificationRequired') else 'no'}",
        f"  custom schedule allowed: "
        f"{'yes' if entry.get('allowCustomAssignmentSchedule') else 'no'}",
        f"  access lasts:            {_lasts(expiration)}",
    ]
    for question in entry.get("questions") or []:
        required = "required" if question.get("isRequired") else "optional"
        lines.append(f"  question ({required}): {question.get('text')}  [id {question.get('id')}]")
        for choice in question.get("choices") or []:
            lines.append(f"    - {choice.get('actualValue')}: {choice.get('text')}")
    return "\n".join(lines)


def _lasts(expiration: dict[str, Any]) -> str:
    if expiration.get("duration"):
        return str(expiration["duration"])
    if expiration.get("endDateTime"):
        return f"until {expiration['endDateTime']}"
    return "no end set"


@click.group()
def assignments() -> None:
    """The caller's access package assignments, through the HTTP API."""


@assignments.command("mine")
@click.option("--created-by", is_flag=True, help="Those you requested (for anyone) instead.")
@click.option("--top", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--count", is_flag=True, help="Also show how many there are in all.")
@_api_options
def assignments_mine(
    api: ApiClient, as_json: bool, created_by: bool, top: int, count: bool
) -> None:
    """Your assignments, current and expired ("my access")."""
    page = GraphReads(api).my_assignments(
        "createdBy" if created_by else "target", top=top, count=count
    )
    if not as_json:
        rows = [
            {
                **a,
                "accessPackage": _name(a.get("accessPackage")),
                "ends": _lasts(((a.get("schedule") or {}).get("expiration")) or {}),
            }
            for a in page.value
        ]
        page = Page(rows, page.count, page.next_link)
    echo_page(page, _ASSIGNMENT_COLUMNS, as_json, count, "assignments")
