"""``make run``: everything a newcomer needs, in the foreground, against the stack.

Migrates the schema, ensures the topics, applies ``examples/catalog.yaml``, runs the worker
(with its relay) and, unless ``DEMO=0``, submits a few example requests so their state
changes scroll by. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from accessflow import bootstrap
from accessflow.adapters.catalog_file import read_catalog_file
from accessflow.adapters.connectors_config import ConnectorsConfig, ConnectorsConfigError
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS
from accessflow.adapters.postgres.catalog_store import apply_catalog
from accessflow.adapters.postgres.pool import connect
from accessflow.api.app import create_app
from accessflow.api.auth import mint_token
from accessflow.api.exposure import check_exposure
from accessflow.entrypoints.serve import run_worker
from accessflow.logs import get_logger
from accessflow.service.commands import create_command
from accessflow.settings import Settings, SettingsError

log = get_logger("accessflow.run")
CATALOG = Path(__file__).resolve().parents[3] / "examples" / "catalog.yaml"
MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
KAYO = "46184453-e63b-4f20-86c2-c557ed5d5df9"
GUEST = "cdb02fd0-01ec-4bf4-896b-b8b30b5d74c5"
SALES = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"
FINANCE = "977c7ff4-ef8f-4910-9d31-49048ddf3120"

FINANCE_ANSWERS = [
    {
        "@odata.type": "#microsoft.graph.accessPackageAnswerString",
        "value": "MultipleChoiceAnswerValue",
        "displayValue": "Quarterly close",
        "answeredQuestion": {
            "@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion",
            "id": "8fe745e7-80b2-490d-bd22-4e708c77288c",
        },
    },
    {
        "@odata.type": "#microsoft.graph.accessPackageAnswerString",
        "value": "Reconciling the quarterly numbers",
        "displayValue": "Reconciliation",
        "answeredQuestion": {
            "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
            "id": "7aaa18c9-8e4f-440f-bd5a-3a7ce312cbe6",
        },
    },
]

# (who asks, the Graph create body): delivered, pending two-stage approval, and denied
# (a guest is outside the "all member users" scope). A second `make run` shows the first
# denied too (AlreadyAssigned): the demo's requests are real.
DEMO_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        MEGAN,
        {
            "requestType": "userAdd",
            "justification": "Need the sales reports",
            "assignment": {
                "accessPackageId": SALES,
                "assignmentPolicyId": SALES_POLICY,
                "targetId": MEGAN,
            },
        },
    ),
    (
        KAYO,
        {
            "requestType": "userAdd",
            "answers": FINANCE_ANSWERS,
            "assignment": {"accessPackageId": FINANCE},
        },
    ),
    (GUEST, {"requestType": "userAdd", "assignment": {"accessPackageId": SALES}}),
]


def main() -> int:
    try:
        settings = bootstrap.start()
        connectors = bootstrap.connectors_config(settings)
        check_exposure(settings)  # before migrating; create_app checks again
    except (SettingsError, ConnectorsConfigError) as exc:
        print(exc, file=sys.stderr)
        return 2
    demo = os.environ.get("ACCESSFLOW_DEMO", "1") != "0"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings, connectors, demo=demo))
    return 0


async def _run(settings: Settings, connectors: ConnectorsConfig, *, demo: bool) -> None:
    result = await bootstrap.migrate_all(settings)
    log.info(
        "stack.ready",
        migrations_applied=[f"{m.version:04d}_{m.name}" for m in result.applied],
        topics={t.name: t.partitions for t in result.topics},
    )
    conn = await connect(settings)
    try:
        applied = await apply_catalog(conn, read_catalog_file(CATALOG))
    finally:
        await conn.close()
    log.info("catalog.applied", path=str(CATALOG), version=applied.version, users=applied.users)
    api = _api_server(settings)
    api_task = asyncio.create_task(api.serve())
    _announce_api(settings)
    demo_task = asyncio.create_task(_submit_demo(settings)) if demo else None
    try:
        await run_worker(settings, connectors)
    finally:
        if demo_task is not None:
            demo_task.cancel()
        api.should_exit = True
        await api_task


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: the worker owns SIGTERM/SIGINT, and the API
    is stopped (``should_exit``) once the worker has drained."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _api_server(settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None
    )
    return _ApiServer(config)


def _announce_api(settings: Settings) -> None:
    base = f"http://{settings.api_host}:{settings.api_port}"
    token = None
    if settings.auth_hs256_secret is not None:
        token = mint_token(settings, MEGAN, (), ttl_seconds=8 * 3600)
    log.info(
        "api.serving",
        url=f"{base}/v1.0/identityGovernance/entitlementManagement/assignmentRequests",
        openapi=f"{base}/openapi.json",
        token_for_megan=token,
        hint="curl -H 'Authorization: Bearer <token>' <url>; see docs/api.md",
    )


async def _submit_demo(settings: Settings) -> None:
    await asyncio.sleep(2)  # let the worker join its group first, so the lines read in order
    producer = await bootstrap.producers(settings).start_producer()
    try:
        for requestor, body in DEMO_REQUESTS:
            command = create_command(requestor, body, source="urn:accessflow:demo")
            message = (command["subject"].encode(), orjson.dumps(command))
            await producer.send_keyed(settings.commands_topic, [message], CLOUDEVENTS_HEADERS)
            log.info(
                "demo.submitted",
                request_id=command["subject"],
                requestor=requestor,
                access_package=body["assignment"]["accessPackageId"],
            )
    finally:
        await producer.stop()


if __name__ == "__main__":
    sys.exit(main())
