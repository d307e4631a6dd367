"""The client's own configuration: what a producer, a subscriber and the HTTP API client
need, read from the same ``ACCESSFLOW_*`` variables as the server, and nothing else (no
database, no worker or API settings), so the client works without the server's config.

>>> config = load_client_config()                     # doctest: +SKIP
>>> async with AccessflowProducer(config) as client:   # doctest: +SKIP
...     ...
"""

from __future__ import annotations

from pydantic import SecretStr

from accessflow.settings_base import (
    KafkaConnectionSettings,
    LoggingSettings,
    SettingsError,
    read_settings,
)

__all__ = ["ClientConfig", "SettingsError", "load_client_config"]

DEFAULT_API_URL = "http://127.0.0.1:8000"


class ClientConfig(KafkaConnectionSettings, LoggingSettings):
    """Brokers, their security options, the topics, the size budget and logging (the
    server's own variables), plus the HTTP API's URL and bearer token."""

    api_url: str = DEFAULT_API_URL
    api_token: SecretStr | None = None


def load_client_config(**overrides: object) -> ClientConfig:
    """Read the client's configuration from the environment, explicit overrides winning.

    Raises :class:`SettingsError` whose message names every offending variable.
    """
    return read_settings(ClientConfig, **overrides)
