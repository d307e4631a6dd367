"""accessflow's Python client in a dozen lines: Megan Bowen (examples/catalog.yaml) asks for
the "Sales reports" package; the script waits for the request's terminal state and prints it.

Run it against `make run`'s stack (worker running, example catalog applied):

    eval "$(deploy/local/stack env)"
    .venv/bin/python examples/client_example.py

The first run prints `delivered`; later runs print `denied` (AlreadyAssigned): the requests
are real.
"""

from __future__ import annotations

import asyncio

from accessflow.client import AccessflowProducer, load_client_config, wait_for_terminal

MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
SALES_REPORTS = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"


async def main() -> None:
    config = load_client_config()  # ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS, ACCESSFLOW_*_TOPIC, …
    body = {
        "requestType": "userAdd",
        "justification": "Quarterly review",
        "assignment": {
            "accessPackageId": SALES_REPORTS,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": MEGAN,
        },
    }
    async with AccessflowProducer(config, source="urn:example:client") as client:
        request_id = await client.create_request(MEGAN, body)
    print(f"submitted {request_id}")
    final = await wait_for_terminal(config, request_id, timeout_s=60)
    reason = f" ({final.reason.code}: {final.reason.message})" if final.reason else ""
    print(f"{final.state} after {final.sequence} state changes{reason}")


if __name__ == "__main__":
    asyncio.run(main())
