"""What the server and the client both read from their ``ACCESSFLOW_*`` environment: the
Kafka connection (brokers, security options, the two topics, the size budget) and logging.

The server's :class:`~accessflow.settings.Settings` and the client's
:class:`~accessflow.client.config.ClientConfig` both extend :class:`KafkaConnectionSettings`
and :class:`LoggingSettings`, so a client reads the same variables, checked the same way,
without the server's configuration; the Kafka adapters take nothing more than the first.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from accessflow.domain.limits import EVENT_BYTES_NEEDED, MAX_EVENT_BYTES

ENV_PREFIX = "ACCESSFLOW_"
PositiveInt = Annotated[int, Field(gt=0)]
_Read = TypeVar("_Read", bound=BaseSettings)


class SettingsError(Exception):
    """A setting is missing or malformed; the message names each variable at fault."""


class KafkaSecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class LogFormat(StrEnum):
    AUTO = "auto"  # JSON lines off a terminal, readable console output on one
    JSON = "json"
    CONSOLE = "console"


class _FromEnvironment(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
    )


class LoggingSettings(_FromEnvironment):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: LogFormat = LogFormat.AUTO

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class KafkaConnectionSettings(_FromEnvironment):
    """The brokers, topics and size budget a producer or subscriber of accessflow needs."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"

    # Topics (wire contract)
    commands_topic: str = "accessflow.commands"
    events_topic: str = "accessflow.events"

    # The size budget (docs/security.md, Limits): a command larger than this is refused
    # (API 413, worker DLQ); no event is larger than max_event_bytes, which may not be set
    # below the worst case the field limits allow. Both must fit the topics at start.
    max_command_bytes: PositiveInt = 1_000_000
    max_event_bytes: Annotated[int, Field(ge=EVENT_BYTES_NEEDED)] = MAX_EVENT_BYTES

    # Kafka security passthrough for real clusters
    kafka_security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"] | None
    ) = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port[,host:port…], got {server.strip()!r}")
        return value

    @field_validator("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile", mode="before")
    @classmethod
    def _unset_if_empty(cls, value: object) -> object:
        # An exported but empty variable means "not set", not the current directory.
        return None if value == "" else value

    @field_validator("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{str(value)!r} is not a file")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> KafkaConnectionSettings:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Settings that are each valid but do not go together, each naming its variables."""
        problems = []
        sasl = self.kafka_security_protocol.value.startswith("SASL")
        if sasl and not self.kafka_sasl_mechanism:
            problems.append(
                "ACCESSFLOW_KAFKA_SECURITY_PROTOCOL is SASL_* but "
                "ACCESSFLOW_KAFKA_SASL_MECHANISM is unset"
            )
        password_login = self.kafka_sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if sasl and password_login and not (self.kafka_sasl_username and self.kafka_sasl_password):
            # The broker would refuse the login anyway; saying so here names the variables.
            problems.append(
                f"ACCESSFLOW_KAFKA_SASL_MECHANISM {self.kafka_sasl_mechanism} needs "
                "ACCESSFLOW_KAFKA_SASL_USERNAME and ACCESSFLOW_KAFKA_SASL_PASSWORD"
            )
        return problems


def read_settings(kind: type[_Read], **overrides: Any) -> _Read:
    """Read ``kind`` from the environment, with explicit overrides winning.

    Raises :class:`SettingsError` whose message names every offending variable.
    """
    try:
        return kind(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            # Whole-model checks have no location; their messages name the variables.
            problems.append(f"{ENV_PREFIX}{field.upper()}: {message}" if field else message)
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
