"""The loops' unit tests run on the memory broker and the memory store."""

from __future__ import annotations
