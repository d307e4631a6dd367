"""``accessflow requests list/get/cancel/reprocess`` and ``accessflow approvals decide``:
thin commands over the HTTP API (``docs/api.md``), so they need ``accessflow api`` running
and a bearer token (``accessflow token --user ID``).

A Graph error body becomes one ``Error:`` line and exit code 1. Readable on a terminal,
JSON otherwise (``--json`` forces JSON).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
import httpx
import orjson

from accessflow.client.config import DEFAULT_API_URL

BASE_PATH = "/v1.0/identityGovernance/entitlementManagement"

_COLUMNS = ("id", "requestType", "state", "status", "createdDateTime")


def graph_error_line(response: httpx.Response) -> str:
    """One line for an error response: status, Graph code, detail codes, message."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict) or not error:
        return (
            f"HTTP {response.status_code}: {response.text.strip()[:200] or response.reason_phrase}"
        )
    codes = [d.get("code") for d in error.get("details") or [] if isinstance(d, dict)]
    detail = f" ({', '.join(c for c in codes if c)})" if any(codes) else ""
    return (
        f"HTTP {response.status_code} {error.get('code', '?')}{detail}: {error.get('message', '')}"
    )


class ApiClient:
    """The few calls the CLI makes; every non-2xx answer raises ClickException."""

    def __init__(self, api_url: str, token: str | None, *, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=api_url.rstrip("/") + BASE_PATH, headers=headers, timeout=timeout
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"{self._http.base_url}: {exc}") from None
        if response.is_error:
            raise click.ClickException(graph_error_line(response))
        return response

    def close(self) -> None:
        self._http.close()


def _api_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add --api-url, --token and --json; the command receives ``api`` and ``as_json``."""

    @functools.wraps(command)
    def with_api(*args: Any, api_url: str, token: str | None, json_: bool, **kw: Any) -> None:
        api = ApiClient(api_url, token)
        try:
            command(*args, api=api, as_json=json_ or not sys.stdout.isatty(), **kw)
        finally:
            api.close()

    options = [
        click.option(
            "--api-url",
            envvar="ACCESSFLOW_API_URL",
            default=DEFAULT_API_URL,
            show_default=True,
            help="The API's base URL [env ACCESSFLOW_API_URL].",
        ),
        click.option(
            "--token",
            envvar="ACCESSFLOW_API_TOKEN",
            help="Bearer token [env ACCESSFLOW_API_TOKEN].",
        ),
        click.option("--json", "json_", is_flag=True, help="JSON output."),
    ]
    decorated: Callable[..., None] = with_api
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def table(rows: list[dict[str, Any]], columns: tuple[str, ...] = _COLUMNS) -> str:
    cells = [[str(row.get(c) if row.get(c) is not None else "—") for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


@click.group()
def requests() -> None:
    """Assignment requests, through the HTTP API."""


@requests.command("list")
@click.option("--state", help="Only requests in this state (e.g. pendingApproval).")
@click.option("--top", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--count", is_flag=True, help="Also show how many match in all.")
@_api_options
def requests_list(api: ApiClient, as_json: bool, state: str | None, top: int, count: bool) -> None:
    """List assignment requests (an admin token sees everyone's)."""
    params: dict[str, Any] = {"$top": top}
    if state:
        params["$filter"] = f"state eq '{state}'"
    if count:
        params["$count"] = "true"
    page = api.call("GET", "/assignmentRequests", params=params).json()
    echo_rows(page, _COLUMNS, as_json, counted=count, noun="requests")


def echo_rows(
    page: dict[str, Any], columns: tuple[str, ...], as_json: bool, *, counted: bool, noun: str
) -> None:
    """A collection page as a table (with "N of M" when ``counted``), or JSON: one line per
    item, or when ``counted`` one object ``{"@odata.count": M, "value": […]}``."""
    rows = page.get("value", [])
    if as_json:
        if counted:
            click.echo(_dumps({"@odata.count": page.get("@odata.count"), "value": rows}))
            return
        for row in rows:
            click.echo(_dumps(row))
        return
    click.echo(table(rows, columns))
    if counted and page.get("@odata.count") is not None:
        click.echo(f"({len(rows)} of {page['@odata.count']} {noun})")
    elif page.get("@odata.nextLink"):
        click.echo(f"(more than {len(rows)}: raise --top, or page with the API's nextLink)")


@requests.command("get")
@click.argument("request_id")
@_api_options
def requests_get(api: ApiClient, as_json: bool, request_id: str) -> None:
    """Show one assignment request (with its access package and requestor)."""
    params = {"$expand": "accessPackage,requestor"}
    body = api.call("GET", f"/assignmentRequests/{request_id}", params=params).json()
    body.pop("@odata.context", None)
    if as_json:
        click.echo(_dumps(body))
        return
    package = body.get("accessPackage") or {}
    requestor = body.get("requestor") or {}
    for key in (*_COLUMNS, "completedDateTime", "justification"):
        click.echo(f"{key + ':':<20}{body.get(key) if body.get(key) is not None else '—'}")
    click.echo(f"{'accessPackage:':<20}{package.get('displayName', '—')} ({package.get('id')})")
    click.echo(
        f"{'requestor:':<20}{requestor.get('displayName', '—')} ({requestor.get('objectId')})"
    )


_HISTORY_COLUMNS = ("sequence", "state", "status", "reasonCode", "causeType", "occurredDateTime")


@requests.command("history")
@click.argument("request_id")
@_api_options
def requests_history(api: ApiClient, as_json: bool, request_id: str) -> None:
    """Every transition of one request, oldest first: state, status, reason, what caused it."""
    entries = api.call("GET", f"/assignmentRequests/{request_id}/history").json()["value"]
    if as_json:
        for entry in entries:
            click.echo(_dumps(entry))
        return
    rows = [{**e, "reasonCode": (e.get("reason") or {}).get("code")} for e in entries]
    click.echo(table(rows, _HISTORY_COLUMNS))


def _action(api: ApiClient, as_json: bool, request_id: str, action: str) -> None:
    response = api.call("POST", f"/assignmentRequests/{request_id}/{action}")
    if as_json:
        click.echo(
            _dumps({"requestId": request_id, "action": action, "status": response.status_code})
        )
    else:
        click.echo(f"{action} accepted for {request_id} (HTTP {response.status_code})")


@requests.command("cancel")
@click.argument("request_id")
@_api_options
def requests_cancel(api: ApiClient, as_json: bool, request_id: str) -> None:
    """Cancel a request (submitted, pendingApproval or scheduled)."""
    _action(api, as_json, request_id, "cancel")


@requests.command("reprocess")
@click.argument("request_id")
@_api_options
def requests_reprocess(api: ApiClient, as_json: bool, request_id: str) -> None:
    """Deliver a deliveryFailed or partiallyDelivered request again."""
    _action(api, as_json, request_id, "reprocess")


@click.group()
def approvals() -> None:
    """Approval decisions, through the HTTP API."""


@approvals.command("decide")
@click.argument("request_id")
@click.argument("stage_id")
@click.option("--approve/--deny", "approve", default=None, help="The decision (required).")
@click.option("--justification", help="The reviewer's justification.")
@_api_options
def approvals_decide(
    api: ApiClient,
    as_json: bool,
    request_id: str,
    stage_id: str,
    approve: bool | None,
    justification: str | None,
) -> None:
    """Approve or deny stage STAGE_ID of request REQUEST_ID (as the token's user)."""
    if approve is None:
        raise click.UsageError("give --approve or --deny")
    body: dict[str, Any] = {"reviewResult": "Approve" if approve else "Deny"}
    if justification is not None:
        body["justification"] = justification
    path = f"/accessPackageAssignmentApprovals/{request_id}/stages/{stage_id}"
    response = api.call("PATCH", path, json=body)
    result = {"requestId": request_id, "stageId": stage_id, **body}
    if as_json:
        click.echo(_dumps({**result, "status": response.status_code}))
    else:
        click.echo(f"{body['reviewResult']} recorded for {request_id} stage {stage_id}")
