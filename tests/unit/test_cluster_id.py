"""The local stack's KRaft cluster id: Kafka's shape, and never an id that StorageTool would
read as an option (one fresh stack in 64 failed to format before)."""

from __future__ import annotations

import base64
import importlib.util
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("cluster_id", ROOT / "deploy/local/cluster_id.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_id_that_would_start_with_a_dash_is_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dashed = uuid.UUID(bytes=b"\xf8" + bytes(15))  # base64url "-AAA…"
    plain = uuid.UUID(bytes=bytes(range(16)))
    draws = iter([dashed, plain])
    module = _module()
    monkeypatch.setattr(module.uuid, "uuid4", lambda: next(draws))

    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
    assert module.cluster_id() == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")


def test_ids_are_22_url_safe_characters() -> None:
    module = _module()
    for _ in range(200):
        found = module.cluster_id()
        assert len(found) == 22
        assert not found.startswith("-")
        assert base64.urlsafe_b64decode(found + "==") != b""
