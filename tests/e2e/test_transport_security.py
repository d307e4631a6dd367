"""Transport security end to end: a worker, the API and the CLI on Kafka's SASL_SSL listener
(SCRAM-SHA-512 over TLS, the broker's certificate from the local stack's test CA). A client
with a wrong password, without credentials, or without trust in the CA is refused at start,
at once, with one line that says why.

The listener is the one of the stack the tests run against when that stack has it
(``deploy/local/stack env --sasl-ssl``); otherwise (a stack started by an older script, a
broker from elsewhere, testcontainers) the module starts a Kafka of its own with the same
script, on free ports in a temporary folder, and stops it afterwards.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from polling import eventually

from accessflow.api.auth import mint_token
from accessflow.client import wait_for_terminal
from accessflow.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack"
SECRET = "transport-test-secret-that-is-long-enough-for-hs256"
REQUESTS = "/v1.0/identityGovernance/entitlementManagement/assignmentRequests"


def _exports(output: str) -> dict[str, str]:
    pairs = (shlex.split(line)[1] for line in output.splitlines() if line.startswith("export "))
    return dict(pair.split("=", 1) for pair in pairs)


def _stack(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STACK), *args], env=env, capture_output=True, text=True, timeout=300)


def _listener_of(env: dict[str, str], plaintext: str) -> dict[str, str] | None:
    """The SASL_SSL listener's ACCESSFLOW_KAFKA_* variables, if the stack described by
    ``env`` is the broker at ``plaintext`` and was started with that listener."""
    plain, secure = _stack("env", env=env), _stack("env", "--sasl-ssl", env=env)
    if plain.returncode or secure.returncode:
        return None
    if _exports(plain.stdout)["ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS"] != plaintext:
        return None
    if "kafka: running" not in _stack("status", env=env).stdout:
        return None
    return {k: v for k, v in _exports(secure.stdout).items() if k.startswith("ACCESSFLOW_KAFKA_")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sasl_listener(
    backend: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """ACCESSFLOW_KAFKA_* for a SASL_SSL listener: the shared stack's, or one of our own."""
    # The stack script finds Python (for certificates and its readiness check) on PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    shared = _listener_of(env, backend.kafka_bootstrap_servers)
    if shared is not None:
        yield shared
        return
    own = {
        **env,
        "ACCESSFLOW_STACK_DIR": str(tmp_path_factory.mktemp("sasl-stack")),
        "ACCESSFLOW_STACK_KAFKA_PORT": str(_free_port()),
        "ACCESSFLOW_STACK_CONTROLLER_PORT": str(_free_port()),
        "ACCESSFLOW_STACK_KAFKA_SASL_PORT": str(_free_port()),
    }
    started = _stack("up", "kafka", env=own)
    try:
        assert started.returncode == 0, started.stderr
        plaintext = f"127.0.0.1:{own['ACCESSFLOW_STACK_KAFKA_PORT']}"
        listener = _listener_of(own, plaintext)
        assert listener is not None, "the stack started Kafka without its SASL_SSL listener"
        yield listener
    finally:
        # Kafka only: its PostgreSQL half was never started (nor may it touch the shared one).
        _stack("down", "kafka", "--wipe", env=own)


def _secure(settings: Settings, listener: dict[str, str], secret: str) -> Settings:
    """The test's settings (schema, topics, group) on the SASL_SSL listener."""
    variables = {**settings.connection_environment(), **listener}
    return load_settings(
        auth_hs256_secret=secret,
        **{k.removeprefix("ACCESSFLOW_").lower(): v for k, v in variables.items()},
    )


async def _until_ready(api: Any, url: str) -> None:
    """/readyz answers 200 once the API's producer is connected (here: over SASL_SSL)."""
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:

        async def ready() -> bool:
            assert api.running(), "accessflow api exited"
            return (await http.get("/readyz")).status_code == 200

        await eventually(
            ready,
            seconds=60,
            interval=0.2,
            what="accessflow api to be ready",
            retry_on=(httpx.TransportError,),
        )


def _sales(target: str) -> dict[str, Any]:
    return {
        "requestType": "userAdd",
        "justification": "over SASL_SSL",
        "assignment": {
            "accessPackageId": "a914b616-e04e-476b-aa37-91038f0b165b",
            "assignmentPolicyId": "2264bf65-76ba-417b-a27d-54d291f0cbc8",
            "targetId": target,
        },
    }


async def test_worker_api_and_cli_deliver_over_sasl_ssl(
    e2e: Any, sasl_listener: dict[str, str]
) -> None:
    """migrate, catalog apply, the worker, the API and `accessflow submit --wait` all run on
    the SASL_SSL listener: a request created through the API and one submitted by the CLI end
    delivered, and their events are read back over SASL_SSL."""
    env = {**e2e.env, **sasl_listener, "ACCESSFLOW_AUTH_HS256_SECRET": SECRET}
    secure = type(e2e)(_secure(e2e.settings, sasl_listener, SECRET), env, e2e.tmp)
    secure.workers = e2e.workers  # the e2e fixture stops them
    secure.prepare(secure.catalog(2))
    port = _free_port()
    secure.start_worker()
    api = secure.start_process("api", env={"ACCESSFLOW_API_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    await _until_ready(api, url)

    alice = secure.user_id(0)
    token = mint_token(secure.settings, alice)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        created = await http.post(
            REQUESTS, json=_sales(alice), headers={"Authorization": f"Bearer {token}"}
        )
    assert created.status_code == 201, created.text
    from_api = created.json()["id"]
    assert (await wait_for_terminal(secure.settings, from_api, 60)).state == "delivered"

    bob = secure.user_id(1)
    body = secure.tmp / "bob.json"
    body.write_text(orjson.dumps(_sales(bob)).decode(), encoding="utf-8")
    submitted = secure.cli(
        "submit", "--json", "--wait", "--timeout", "60", "--requestor", bob, "--file", str(body)
    )
    request, final = (orjson.loads(line) for line in submitted.stdout.splitlines())
    assert final["state"] == "delivered"

    states = {
        rid: [e["data"]["state"] for e in events]
        for rid, events in secure.by_request(await secure.events()).items()
    }
    delivered = ["submitted", "delivering", "delivered"]
    assert states == {from_api: delivered, request["requestId"]: delivered}


# The worker's environment changed from the good one, and what its one error line says.
REFUSALS = {
    "wrong password": (
        {"ACCESSFLOW_KAFKA_SASL_PASSWORD": "not-the-password"},
        "refused the login: SASL authentication failed for user 'accessflow'",
    ),
    "TLS but no credentials": (
        {"ACCESSFLOW_KAFKA_SECURITY_PROTOCOL": "SSL"},
        "closed the connection on every try (ACCESSFLOW_KAFKA_SECURITY_PROTOCOL=SSL)",
    ),
    "plaintext, no credentials": (
        {"ACCESSFLOW_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
        "closed the connection on every try (ACCESSFLOW_KAFKA_SECURITY_PROTOCOL=PLAINTEXT)",
    ),
    "CA not trusted": (  # empty is unset: the system's trust store, which lacks the test CA
        {"ACCESSFLOW_KAFKA_SSL_CAFILE": ""},
        "TLS certificate verification failed",
    ),
}


def test_refused_workers_stop_at_once_saying_why(e2e: Any, sasl_listener: dict[str, str]) -> None:
    """A worker does not wait for a broker that refuses it: with a wrong password, without
    credentials (TLS alone, or plaintext) or without trust in the CA, it exits 1 with one
    `Error:` line naming the cause, never schedules a retry of its start and prints no
    traceback. (The four run side by side.)"""
    e2e.env = {**e2e.env, **sasl_listener}
    e2e.cli("migrate", "--no-topics")  # the database half works: only Kafka refuses
    workers = {case: e2e.start_worker(env=changes) for case, (changes, _) in REFUSALS.items()}
    for case, worker in workers.items():
        assert worker.wait(timeout=60) == 1, case
        output = worker.log.read_text(encoding="utf-8")
        errors = [line for line in output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, (case, output)
        assert REFUSALS[case][1] in errors[0], (case, output)
        assert "Traceback" not in output, case
        assert not [line for line in worker.lines() if line["event"] == "retry.scheduled"], case


def test_cli_commands_refused_by_the_broker_say_why_in_one_line(
    e2e: Any, sasl_listener: dict[str, str]
) -> None:
    """`topics ensure`, `submit` and `events tail` with a wrong password: exit 1, and stderr
    is the one line with the cause (aiokafka's own JSON log line aside)."""
    env = {**e2e.env, **sasl_listener, "ACCESSFLOW_KAFKA_SASL_PASSWORD": "wrong"}
    user, sales = e2e.user_id(0), _sales(e2e.user_id(0))["assignment"]
    commands = [
        ("topics", "ensure"),
        ("submit", "--requestor", user, "--target", user,
         "--access-package", sales["accessPackageId"], "--policy", sales["assignmentPolicyId"]),
        ("events", "tail", "--count", "1", "--timeout", "30"),
    ]  # fmt: skip
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "accessflow.entrypoints.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    expected = (
        f"Error: Kafka at {sasl_listener['ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS']} refused the "
        "login: SASL authentication failed for user 'accessflow' (SCRAM-SHA-512): "
        "Authentication failed during authentication due to invalid credentials with SASL "
        "mechanism SCRAM-SHA-512; check ACCESSFLOW_KAFKA_SASL_USERNAME and "
        "ACCESSFLOW_KAFKA_SASL_PASSWORD"
    )
    for args, proc in zip(commands, running, strict=True):
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 1, (args, stderr)
        plain = [line for line in stderr.splitlines() if not line.startswith("{")]
        assert plain == [expected], (args, stderr)
