"""``accessflow submit`` (straight to Kafka) and ``accessflow requests`` / ``approvals`` (through
a real ``accessflow api``), run as users run them against the real stack and a real worker."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
from polling import eventually

from accessflow.client import wait_for_terminal

ROOT = Path(__file__).resolve().parents[2]
FINANCE_BODY = ROOT / "tests" / "fixtures" / "graph_create" / "03-user-add-with-answers.json"
SALES = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"
KAYO = "46184453-e63b-4f20-86c2-c557ed5d5df9"
ALEX = "44da820a-dfee-4709-88d8-4e365feb9c00"  # Kayo's manager: approves her first stage
APPROVALS = "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals"
SECRET = "cli-test-secret-that-is-long-enough-for-hs256"


def run(
    e2e: Any, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``accessflow ARGS…`` to completion; the caller checks the exit code."""
    return subprocess.run(
        [sys.executable, "-m", "accessflow.entrypoints.cli", *args],
        env={**e2e.env, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
    )


async def _until_healthy(api: Any, url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=1) as http:

        async def healthy() -> bool:
            assert api.proc.poll() is None, api.log.read_text()
            return (await http.get("/healthz")).status_code == 200

        await eventually(healthy, what="accessflow api to start", retry_on=(httpx.TransportError,))


def json_lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def sales(target: str) -> dict[str, Any]:
    return {
        "requestType": "userAdd",
        "assignment": {
            "accessPackageId": SALES,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": target,
        },
    }


async def test_submit_flags_and_jsonl_produce_valid_bodies_and_report_invalid_lines(
    e2e: Any, tmp_path: Path
) -> None:
    """Flags and JSON lines (bare bodies take --requestor, wrapped ones name their own) are
    produced and delivered by the worker; an invalid body and a non-JSON line are reported
    with their line numbers, skipped, and make the exit code 1."""
    e2e.prepare(e2e.catalog(4))
    u = [e2e.user_id(n) for n in range(4)]
    flags = run(
        e2e, "submit", "--json", "--requestor", u[0], "--access-package", SALES,
        "--policy", SALES_POLICY, "--target", u[0], "--justification", "cli",
    )  # fmt: skip
    assert flags.returncode == 0, flags.stderr
    [from_flags] = json_lines(flags.stdout)

    lines = [
        orjson.dumps({"requestor": u[1], "request": sales(u[1])}).decode(),
        orjson.dumps({"requestType": "bogus", "assignment": {}}).decode(),
        "",
        orjson.dumps(sales(u[3])).decode(),
        "{not json",
        orjson.dumps({"requestor": {"objectId": u[2]}, "request": sales(u[2])}).decode(),
    ]
    path = tmp_path / "bodies.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bulk = run(e2e, "submit", "--json", "--requestor", u[3], "--jsonl", str(path))
    assert bulk.returncode == 1
    assert "line 2: InvalidRequest" in bulk.stderr
    assert "line 5: MalformedJson" in bulk.stderr
    produced = json_lines(bulk.stdout)
    assert [p["source"] for p in produced] == ["line 1", "line 4", "line 6"]

    ids = {from_flags["requestId"], *(p["requestId"] for p in produced)}
    commands = [orjson.loads(r.value) for r in await e2e.read(e2e.settings.commands_topic)]
    assert {c["subject"] for c in commands} == ids
    assert len(commands) == 4

    assert e2e.start_worker("--burst").wait(timeout=60) == 0
    states = {
        rid: events[-1]["data"]["state"]
        for rid, events in e2e.by_request(await e2e.events()).items()
    }
    assert states == dict.fromkeys(ids, "delivered")


def test_submit_wait_prints_each_terminal_state_from_stdin(e2e: Any) -> None:
    """--jsonl - reads stdin; --wait follows the events topic and prints each request's
    terminal state (a second request for an assigned package is denied AlreadyAssigned);
    output is JSON lines when stdout is not a terminal."""
    e2e.prepare(e2e.catalog(1))
    worker = e2e.start_worker()
    try:
        body = orjson.dumps(sales(e2e.user_id(0))).decode()
        first = run(
            e2e, "submit", "--json", "--wait", "--timeout", "30",
            "--requestor", e2e.user_id(0), "--jsonl", "-", stdin=body + "\n",
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        created, final = json_lines(first.stdout)
        assert final["requestId"] == created["requestId"]
        assert (final["state"], final["status"], final["sequence"]) == (
            "delivered",
            "Delivered",
            3,
        )
        again = run(
            e2e,
            "submit",
            "--wait",
            "--requestor",
            e2e.user_id(0),
            "--file",
            "/dev/stdin",
            stdin=body,
        )
        assert again.returncode == 0, again.stderr
        created, final = json_lines(again.stdout)
        assert final["requestId"] == created["requestId"]
        assert (final["state"], final["reason"]["code"]) == ("denied", "AlreadyAssigned")
    finally:
        assert worker.terminate() == 0


async def test_requests_and_approvals_commands_talk_to_the_http_api(e2e: Any) -> None:
    """Against a real `accessflow api`: `requests list/get` show a pending request, `approvals
    decide --deny` by the approver denies it, `requests cancel` cancels another, and a Graph
    error (unknown request) is one `Error:` line with exit code 1."""
    e2e.cli("migrate")
    e2e.cli("catalog", "apply", str(ROOT / "examples" / "catalog.yaml"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    auth = {"ACCESSFLOW_AUTH_HS256_SECRET": SECRET}
    worker = e2e.start_worker()
    api = e2e.start_process("api", env={**auth, "ACCESSFLOW_API_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    try:
        await _until_healthy(api, url)
        kayo = run(e2e, "token", "--user", KAYO, **auth).stdout.strip()
        alex = run(e2e, "token", "--user", ALEX, **auth).stdout.strip()
        as_kayo = {"ACCESSFLOW_API_URL": url, "ACCESSFLOW_API_TOKEN": kayo}

        async def pending() -> str:
            submitted = run(
                e2e, "submit", "--json", "--wait", "--until", "pendingApproval",
                "--requestor", KAYO, "--file", str(FINANCE_BODY),
            )  # fmt: skip
            assert submitted.returncode == 0, submitted.stderr
            created, state = json_lines(submitted.stdout)
            assert state["state"] == "pendingApproval"
            return str(created["requestId"])

        first = await pending()
        listed = run(e2e, "requests", "list", "--state", "pendingApproval", "--json", **as_kayo)
        assert listed.returncode == 0, listed.stderr
        assert [r["id"] for r in json_lines(listed.stdout)] == [first]
        got = run(e2e, "requests", "get", first, "--json", **as_kayo)
        assert got.returncode == 0, got.stderr
        shown = orjson.loads(got.stdout)
        assert (shown["state"], shown["accessPackage"]["displayName"]) == (
            "pendingApproval",
            "Finance data",
        )

        async with httpx.AsyncClient(base_url=url) as http:
            approval = (
                await http.get(f"{APPROVALS}/{first}", headers={"Authorization": f"Bearer {alex}"})
            ).json()
        [stage] = [s["id"] for s in approval["stages"] if s.get("assignedToMe")]
        decided = run(
            e2e, "approvals", "decide", first, stage, "--deny", "--justification", "not now",
            "--api-url", url, "--token", alex,
        )  # fmt: skip
        assert decided.returncode == 0, decided.stderr
        assert (await wait_for_terminal(e2e.settings, first, 30)).state == "denied"
        history = run(e2e, "requests", "history", first, "--json", **as_kayo)
        assert history.returncode == 0, history.stderr
        entries = json_lines(history.stdout)
        assert [e["state"] for e in entries] == ["submitted", "pendingApproval", "denied"]
        assert entries[-1]["reason"]["code"] == "ApproverDenied"

        second = await pending()
        canceled = run(e2e, "requests", "cancel", second, "--json", **as_kayo)
        assert canceled.returncode == 0, canceled.stderr
        assert orjson.loads(canceled.stdout)["status"] == 200
        assert (await wait_for_terminal(e2e.settings, second, 30)).state == "canceled"

        missing = run(e2e, "requests", "get", "6f1c3c3e-0000-4000-8000-000000000000", **as_kayo)
        assert missing.returncode == 1
        [error] = missing.stderr.strip().splitlines()
        assert error.startswith("Error: HTTP 404 itemNotFound (RequestNotFound):")
    finally:
        api.terminate()
        assert worker.terminate() == 0
