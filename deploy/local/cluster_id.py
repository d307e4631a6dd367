"""Print a new KRaft cluster id: 16 random bytes, URL-safe base64 without padding, never
starting with "-" (Kafka's own ids never do: its tools would read one as an option)."""

from __future__ import annotations

import base64
import uuid


def cluster_id() -> str:
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


if __name__ == "__main__":
    print(cluster_id())
