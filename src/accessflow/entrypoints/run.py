"""``make run``: everything a newcomer needs, in the foreground, against the stack.

Migrates the schema and ensures the topics, then runs what exists of accessflow. Ctrl-C
stops it cleanly.
"""

from __future__ import annotations

import asyncio
import sys

from accessflow import bootstrap
from accessflow.logs import get_logger
from accessflow.settings import SettingsError


def main() -> int:
    try:
        settings = bootstrap.start()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    log = get_logger("accessflow.run")
    result = asyncio.run(bootstrap.migrate_all(settings))
    log.info(
        "stack.ready",
        migrations_applied=[f"{m.version:04d}_{m.name}" for m in result.applied],
        topics={t.name: t.partitions for t in result.topics},
    )
    # The worker and API land with their issues; until then say so rather than pretend.
    log.warning(
        "run.incomplete",
        missing=["worker (issue 4)", "HTTP API (issue 5)", "example catalog apply (issue 3)"],
        hint="the stack is up and migrated; see README.md, section Status",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
