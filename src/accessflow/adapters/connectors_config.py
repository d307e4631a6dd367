"""The connectors file: which connector delivers each resource ``originSystem``.

YAML (or JSON, for a ``.json`` file), camelCase keys, documented in ``docs/connectors.md``::

    connectors:
      - originSystem: AadGroup
        type: directory
      - originSystem: SaasApp
        type: webhook
        url: https://hooks.example.com/accessflow
        secretEnv: SAASAPP_WEBHOOK_SECRET

The built-in directory connector delivers ``AadGroup`` unless the file says otherwise. A bad
file fails at start with a :class:`ConnectorsConfigError` naming the file and each faulty
entry (``connectors[1].url``), never with a stack trace from pydantic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from accessflow.domain.models.packages import GROUP_ORIGIN_SYSTEM

# A secret shorter than this is too easy to guess for an HMAC key.
MIN_SECRET_LENGTH = 16


class ConnectorsConfigError(Exception):
    """The connectors file is missing, unreadable or invalid; the message says where."""


class _Entry(BaseModel):
    # Strict: a misspelt key (``maxAttempt``) must fail, not silently take the default.
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
        extra="forbid",
    )

    origin_system: Annotated[str, Field(min_length=1)]


class DirectoryConnectorConfig(_Entry):
    """accessflow's own directory: group memberships, written with the state change."""

    type: Literal["directory"]


class WebhookConnectorConfig(_Entry):
    """A signed JSON POST per grant or revoke to ``url``."""

    type: Literal["webhook"]
    url: HttpUrl
    secret: SecretStr | None = None
    #: Read the secret from this environment variable instead (keeps it out of the file).
    secret_env: str | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    max_elapsed_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    backoff_initial_seconds: Annotated[float, Field(gt=0, le=60)] = 0.5
    backoff_max_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookConnectorConfig:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("give exactly one of secret and secretEnv")
        if self.secret is not None and len(self.secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"secret must be at least {MIN_SECRET_LENGTH} characters")
        if self.backoff_initial_seconds > self.backoff_max_seconds:
            raise ValueError("backoffInitialSeconds is larger than backoffMaxSeconds")
        return self

    def signing_secret(self) -> SecretStr:
        """The secret, once :func:`resolve_secrets` has run (always, via the loader)."""
        if self.secret is None:
            raise ConnectorsConfigError(f"{self.origin_system}: secret {self.secret_env} unread")
        return self.secret


ConnectorConfig = Annotated[
    DirectoryConnectorConfig | WebhookConnectorConfig, Field(discriminator="type")
]


def _default_connectors() -> list[ConnectorConfig]:
    return [DirectoryConnectorConfig(origin_system=GROUP_ORIGIN_SYSTEM, type="directory")]


class ConnectorsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    connectors: list[ConnectorConfig] = Field(default_factory=_default_connectors)

    @model_validator(mode="after")
    def _unique_and_builtin(self) -> ConnectorsConfig:
        seen: dict[str, int] = {}
        for index, entry in enumerate(self.connectors):
            key = entry.origin_system.casefold()
            if key in seen:
                raise ValueError(
                    f"connectors[{index}]: originSystem {entry.origin_system!r} is already "
                    f"configured by connectors[{seen[key]}]"
                )
            seen[key] = index
            is_group = key == GROUP_ORIGIN_SYSTEM.casefold()
            if isinstance(entry, DirectoryConnectorConfig) and not is_group:
                raise ValueError(
                    f"connectors[{index}]: the built-in directory delivers only "
                    f"{GROUP_ORIGIN_SYSTEM} (group memberships), not {entry.origin_system!r}"
                )
            if isinstance(entry, WebhookConnectorConfig) and is_group:
                raise ValueError(
                    f"connectors[{index}]: {GROUP_ORIGIN_SYSTEM} memberships live in "
                    "accessflow's own directory and cannot go to a webhook"
                )
        if GROUP_ORIGIN_SYSTEM.casefold() not in seen:
            # The directory is built in: a file that only adds webhooks keeps group delivery.
            self.connectors.append(_default_connectors()[0])
        return self

    @property
    def directory_origin_systems(self) -> frozenset[str]:
        """Origin systems the built-in directory delivers inside the worker's transaction."""
        return frozenset(
            c.origin_system for c in self.connectors if isinstance(c, DirectoryConnectorConfig)
        )

    def longest_call_seconds(self) -> float:
        """The longest one connector round may take (its inline retries included)."""
        return max((w.max_elapsed_seconds + w.timeout_seconds for w in self.webhooks), default=0.0)

    @property
    def webhooks(self) -> list[WebhookConnectorConfig]:
        return [c for c in self.connectors if isinstance(c, WebhookConnectorConfig)]


def parse_connectors_config(
    text: str,
    *,
    source: str = "<connectors>",
    is_json: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ConnectorsConfig:
    """Decode and validate connectors text; ``source`` names it in errors."""
    document = _decode(text, source, is_json)
    if document is None:
        document = {}  # an empty file: only the built-in directory
    try:
        config = ConnectorsConfig.model_validate(document)
    except ValidationError as exc:
        raise ConnectorsConfigError(_describe(source, exc)) from None
    return resolve_secrets(config, source, os.environ if environ is None else environ)


def load_connectors_config(
    path: Path, *, environ: Mapping[str, str] | None = None
) -> ConnectorsConfig:
    """Read the connectors file at ``path`` (``.json`` as JSON, otherwise YAML)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConnectorsConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_connectors_config(
        text, source=str(path), is_json=path.suffix.lower() == ".json", environ=environ
    )


def resolve_secrets(
    config: ConnectorsConfig, source: str, environ: Mapping[str, str]
) -> ConnectorsConfig:
    """Fill each ``secretEnv`` from the environment, so a missing secret fails at start."""
    resolved: list[ConnectorConfig] = []
    for index, entry in enumerate(config.connectors):
        if isinstance(entry, WebhookConnectorConfig) and entry.secret_env is not None:
            value = environ.get(entry.secret_env, "")
            if len(value) < MIN_SECRET_LENGTH:
                why = "is unset" if not value else f"is shorter than {MIN_SECRET_LENGTH}"
                raise ConnectorsConfigError(
                    f"{source}: connectors[{index}].secretEnv: {entry.secret_env} {why}"
                )
            entry = entry.model_copy(update={"secret": SecretStr(value)})
        resolved.append(entry)
    # A copy, not a re-validation: the resolved entries carry both secret and secretEnv.
    return config.model_copy(update={"connectors": resolved})


def _decode(text: str, source: str, is_json: bool) -> Any:
    try:
        return json.loads(text) if is_json else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConnectorsConfigError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConnectorsConfigError(f"{source}: not valid YAML{where}") from None


def _describe(source: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        # Drop the union's tag from the location: connectors.1.webhook.url → connectors[1].url
        parts = [p for p in error["loc"] if p not in ("webhook", "directory")]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}" if path else message)
    return f"{source}: invalid connectors file:\n  " + "\n  ".join(problems)
