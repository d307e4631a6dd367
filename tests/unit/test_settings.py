"""accessflow.settings.load_settings: wire-contract defaults, env overrides, clear errors."""

from __future__ import annotations

import os

import pytest

from accessflow.settings import (
    ENV_PREFIX,
    KafkaSecurityProtocol,
    LogFormat,
    Settings,
    SettingsError,
    load_settings,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` runs with the stack's ACCESSFLOW_* set; these tests start from none."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def test_defaults_follow_the_wire_contract() -> None:
    settings = load_settings()

    assert settings.commands_topic == "accessflow.commands"
    assert settings.events_topic == "accessflow.events"
    assert settings.dlq_topic == "accessflow.commands.dlq"
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.dsn == "postgresql://accessflow:accessflow@127.0.0.1:5432/accessflow"


def test_other_defaults_are_safe_for_a_single_node() -> None:
    settings = load_settings()

    assert settings.topic_partitions == 6
    assert settings.topic_replication_factor == 1
    assert settings.consumer_group_id == "accessflow-worker"
    assert settings.kafka_security_protocol is KafkaSecurityProtocol.PLAINTEXT
    assert settings.log_level == "INFO"
    assert settings.log_format is LogFormat.AUTO
    assert settings.metrics_port == 9464


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSFLOW_EVENTS_TOPIC", "tenant-a.events")
    monkeypatch.setenv("ACCESSFLOW_COMMANDS_TOPIC", "tenant-a.commands")
    monkeypatch.setenv("ACCESSFLOW_DLQ_TOPIC", "tenant-a.dlq")
    monkeypatch.setenv("ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9093")
    monkeypatch.setenv("ACCESSFLOW_DATABASE_URL", "postgresql://u:p@db.internal:6543/af")
    monkeypatch.setenv("ACCESSFLOW_CONSUMER_GROUP_ID", "group-b")
    monkeypatch.setenv("ACCESSFLOW_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("ACCESSFLOW_LOG_FORMAT", "json")

    settings = load_settings()

    assert settings.events_topic == "tenant-a.events"
    assert settings.commands_topic == "tenant-a.commands"
    assert settings.dlq_topic == "tenant-a.dlq"
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9093"
    assert settings.dsn == "postgresql://u:p@db.internal:6543/af"
    assert settings.consumer_group_id == "group-b"
    assert settings.topic_partitions == 12
    assert settings.log_format is LogFormat.JSON


def test_environment_variable_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("accessflow_events_topic", "lower.events")

    assert load_settings().events_topic == "lower.events"


def test_explicit_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSFLOW_EVENTS_TOPIC", "from.env")

    assert load_settings(events_topic="from.override").events_topic == "from.override"


def test_kafka_security_settings_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("ACCESSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("ACCESSFLOW_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("ACCESSFLOW_KAFKA_SASL_PASSWORD", "s3cret-kafka")

    settings = load_settings()

    assert settings.kafka_security_protocol is KafkaSecurityProtocol.SASL_SSL
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "s3cret-kafka"
    assert "s3cret-kafka" not in repr(settings)


@pytest.mark.parametrize("level", ["debug", "Debug", "DEBUG", "warning"])
def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    monkeypatch.setenv("ACCESSFLOW_LOG_LEVEL", level)

    assert load_settings().log_level == level.upper()


def test_unknown_log_level_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSFLOW_LOG_LEVEL", "chatty")

    with pytest.raises(SettingsError, match="ACCESSFLOW_LOG_LEVEL"):
        load_settings()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x",
        "postgresql://host:notaport/db",
        "postgresql://host/",
        "postgresql://host:5432",
        "postgresql://host:0/db",
        "not a url",
    ],
)
def test_malformed_database_url_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("ACCESSFLOW_DATABASE_URL", url)

    with pytest.raises(SettingsError, match="ACCESSFLOW_DATABASE_URL"):
        load_settings()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@host:5432/db",
        "postgres://host/db",
        "postgresql:///db?host=/var/run/postgresql",
    ],
    ids=["full", "postgres-scheme", "unix-socket"],
)
def test_well_formed_database_urls_are_accepted(url: str) -> None:
    assert load_settings(database_url=url).dsn == url


@pytest.mark.parametrize(
    "servers", ["localhost", "host:port", "host:0", "host:70000", ":9092", "a:9092,b"]
)
def test_malformed_bootstrap_servers_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, servers: str
) -> None:
    monkeypatch.setenv("ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS", servers)

    with pytest.raises(SettingsError, match="ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS"):
        load_settings()


def test_several_bad_values_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSFLOW_DATABASE_URL", "mysql://x")
    monkeypatch.setenv("ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS", "nohostport")
    monkeypatch.setenv("ACCESSFLOW_TOPIC_PARTITIONS", "0")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    for variable in (
        "ACCESSFLOW_DATABASE_URL",
        "ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS",
        "ACCESSFLOW_TOPIC_PARTITIONS",
    ):
        assert variable in message


def test_settings_error_has_no_chained_validation_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI prints the message alone; pydantic's error must not ride along as the cause."""
    monkeypatch.setenv("ACCESSFLOW_DATABASE_URL", "mysql://x")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_database_password_never_appears_in_repr_or_str() -> None:
    settings = load_settings(database_url="postgresql://svc:pa55-w0rd@db:5432/af")

    assert "pa55-w0rd" not in repr(settings)
    assert "pa55-w0rd" not in str(settings)
    assert settings.dsn.endswith("@db:5432/af")


def test_bad_database_url_error_does_not_echo_the_password() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url="mysql://svc:pa55-w0rd@db/af")

    assert "pa55-w0rd" not in str(caught.value)


def test_settings_are_frozen() -> None:
    settings = load_settings()

    with pytest.raises(ValueError, match="frozen"):
        settings.events_topic = "changed"  # type: ignore[misc]


def test_unknown_accessflow_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stray ACCESSFLOW_* (e.g. from a newer release) must not stop the process."""
    monkeypatch.setenv("ACCESSFLOW_NOT_A_SETTING", "x")

    assert isinstance(load_settings(), Settings)


def test_retention_defaults() -> None:
    settings = load_settings()

    assert settings.processed_retention_days == 30
    assert settings.idempotency_retention_hours == 24
    assert settings.housekeeping_interval_seconds == 600.0


@pytest.mark.parametrize(("retention", "window"), [("14", "14"), ("7", "14"), ("30", "60")])
def test_processed_retention_must_outlast_the_reprocess_window(
    monkeypatch: pytest.MonkeyPatch, retention: str, window: str
) -> None:
    """A reprocess redelivered after its ledger row is pruned would be judged again."""
    monkeypatch.setenv("ACCESSFLOW_PROCESSED_RETENTION_DAYS", retention)
    monkeypatch.setenv("ACCESSFLOW_REPROCESS_WINDOW_DAYS", window)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    assert "ACCESSFLOW_PROCESSED_RETENTION_DAYS" in message
    assert "ACCESSFLOW_REPROCESS_WINDOW_DAYS" in message


def test_a_retention_longer_than_the_window_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSFLOW_PROCESSED_RETENTION_DAYS", "15")
    monkeypatch.setenv("ACCESSFLOW_REPROCESS_WINDOW_DAYS", "14")

    assert load_settings().processed_retention_days == 15


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCESSFLOW_PROCESSED_RETENTION_DAYS", "0"),
        ("ACCESSFLOW_IDEMPOTENCY_RETENTION_HOURS", "0"),
        ("ACCESSFLOW_HOUSEKEEPING_INTERVAL_SECONDS", "0"),
    ],
)
def test_retention_settings_must_be_positive(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError, match=variable):
        load_settings()
