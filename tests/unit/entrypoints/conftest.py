"""The loops' unit tests run on the memory broker and the memory store."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest's importlib mode does not put test folders on sys.path: the shared helpers live in
# tests/support.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
