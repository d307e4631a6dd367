"""The Graph-compatible HTTP API: it validates, produces commands and reads committed state;
the worker remains the only writer of request state."""

from accessflow.api.app import create_app

__all__ = ["create_app"]
