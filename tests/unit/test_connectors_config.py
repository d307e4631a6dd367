"""The connectors file: what a valid one yields, and that every bad one names path and entry."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from accessflow.adapters.connectors_config import (
    ConnectorsConfig,
    ConnectorsConfigError,
    DirectoryConnectorConfig,
    WebhookConnectorConfig,
    load_connectors_config,
    parse_connectors_config,
)
from accessflow.service.connectors import (
    CallOutcome,
    ConnectorRegistry,
    GrantRequest,
    GrantResult,
    Operation,
)

SECRET = "0123456789abcdef-secret"

VALID_YAML = f"""
connectors:
  - originSystem: AadGroup
    type: directory
  - originSystem: SaasApp
    type: webhook
    url: https://hooks.example.com/accessflow
    secret: {SECRET}
    timeoutSeconds: 5
    maxAttempts: 3
    maxElapsedSeconds: 20
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, name: str = "connectors.yaml") -> str:
    with pytest.raises(ConnectorsConfigError) as caught:
        load_connectors_config(write(tmp_path, name, text), environ={})
    return str(caught.value)


def test_yaml_file_yields_typed_connectors(tmp_path: Path) -> None:
    config = load_connectors_config(write(tmp_path, "c.yaml", VALID_YAML), environ={})
    (webhook,) = config.webhooks
    assert config.directory_origin_systems == {"AadGroup"}
    assert str(webhook.url) == "https://hooks.example.com/accessflow"
    assert webhook.secret is not None
    assert webhook.secret.get_secret_value() == SECRET
    assert (webhook.timeout_seconds, webhook.max_attempts, webhook.max_elapsed_seconds) == (
        5,
        3,
        20,
    )
    assert SECRET not in repr(config)  # secrets never reach logs through a repr


def test_json_file_is_read_as_json(tmp_path: Path) -> None:
    text = (
        '{"connectors": [{"originSystem": "SaasApp", "type": "webhook", '
        f'"url": "http://127.0.0.1:8080/hook", "secret": "{SECRET}"}}]}}'
    )
    config = load_connectors_config(write(tmp_path, "c.json", text), environ={})
    assert [w.origin_system for w in config.webhooks] == ["SaasApp"]


def test_webhook_defaults_apply_when_unset() -> None:
    config = parse_connectors_config(
        f"connectors: [{{originSystem: X, type: webhook, url: 'http://h/x', secret: {SECRET}}}]"
    )
    (webhook,) = config.webhooks
    assert (webhook.timeout_seconds, webhook.max_attempts, webhook.max_elapsed_seconds) == (
        10,
        5,
        30,
    )


def test_directory_for_aad_group_is_built_in_even_when_the_file_omits_it() -> None:
    only_webhook = (
        f"connectors: [{{originSystem: X, type: webhook, url: 'http://h', secret: {SECRET}}}]"
    )
    assert parse_connectors_config(only_webhook).directory_origin_systems == {"AadGroup"}
    assert parse_connectors_config("").directory_origin_systems == {"AadGroup"}
    assert ConnectorsConfig().connectors == [
        DirectoryConnectorConfig(origin_system="AadGroup", type="directory")
    ]


def test_secret_env_is_read_from_the_environment() -> None:
    text = "connectors: [{originSystem: X, type: webhook, url: 'http://h', secretEnv: HOOK_KEY}]"
    config = parse_connectors_config(text, environ={"HOOK_KEY": SECRET})
    assert config.webhooks[0].signing_secret().get_secret_value() == SECRET


def test_unset_secret_env_names_the_file_entry_and_variable(tmp_path: Path) -> None:
    text = "connectors: [{originSystem: X, type: webhook, url: 'http://h', secretEnv: HOOK_KEY}]"
    message = error_of(tmp_path, text)
    assert "connectors.yaml: connectors[0].secretEnv: HOOK_KEY is unset" in message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{originSystem: X, type: ftp}", "connectors[0]: Input tag 'ftp'"),
        ("{originSystem: X, type: webhook, secret: S}", "connectors[0].url: Field required"),
        (
            f"{{originSystem: X, type: webhook, url: 'not a url', secret: {SECRET}}}",
            "connectors[0].url:",
        ),
        (
            f"{{originSystem: X, type: webhook, url: 'http://h', secret: {SECRET}, "
            "maxAttempts: 0}",
            "connectors[0].maxAttempts: Input should be greater than or equal to 1",
        ),
        (
            f"{{originSystem: X, type: webhook, url: 'http://h', secret: {SECRET}, maxAttempt: 3}}",
            "connectors[0].maxAttempt: Extra inputs are not permitted",
        ),
        (
            "{originSystem: X, type: webhook, url: 'http://h'}",
            "connectors[0]: give exactly one of secret and secretEnv",
        ),
        (
            "{originSystem: X, type: webhook, url: 'http://h', secret: short}",
            "connectors[0]: secret must be at least 16 characters",
        ),
        ("{type: directory}", "connectors[0].originSystem: Field required"),
    ],
)
def test_invalid_entry_is_reported_with_the_file_and_its_path(
    tmp_path: Path, entry: str, expected: str
) -> None:
    message = error_of(tmp_path, f"connectors:\n  - {entry}\n")
    assert message.startswith(f"{tmp_path / 'connectors.yaml'}: invalid connectors file")
    assert expected in message


def test_duplicate_origin_system_ignoring_case_is_rejected(tmp_path: Path) -> None:
    text = """
connectors:
  - {originSystem: AadGroup, type: directory}
  - {originSystem: aadgroup, type: directory}
"""
    message = error_of(tmp_path, text)
    assert "connectors[1]: originSystem 'aadgroup' is already configured by connectors[0]" in (
        message
    )


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    assert "connector: Extra inputs are not permitted" in error_of(tmp_path, "connector: []")


def test_malformed_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "connectors:\n  - [unclosed\n")
    assert message.startswith(str(tmp_path / "connectors.yaml"))
    assert "not valid YAML at line" in message


def test_malformed_json_names_the_file_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, '{"connectors": [\n}', name="c.json")
    assert message.startswith(f"{tmp_path / 'c.json'}: not valid JSON:")
    assert "line 2" in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConnectorsConfigError, match=r"nowhere\.yaml: cannot read"):
        load_connectors_config(tmp_path / "nowhere.yaml")


def test_webhook_entry_accepts_snake_case_names_too() -> None:
    entry = WebhookConnectorConfig(
        origin_system="X", type="webhook", url="http://h", secret=SECRET, max_attempts=2
    )
    assert entry.max_attempts == 2


def _grant(scope: str = "s1", assignment: uuid.UUID | None = None) -> GrantRequest:
    return GrantRequest(
        request_id=uuid.uuid4(),
        assignment_id=assignment or uuid.UUID(int=1),
        target_id="u",
        access_package_id="p",
        resource_scope_id=scope,
        origin_system="X",
        origin_id="o",
    )


def test_idempotency_key_depends_on_assignment_scope_and_operation_only() -> None:
    """Not on the request or the attempt: a reprocess re-sends the key the receiver saw."""
    first, again = _grant(), _grant()
    assert first.idempotency_key(Operation.GRANT) == again.idempotency_key(Operation.GRANT)
    assert first.idempotency_key(Operation.GRANT) != first.idempotency_key(Operation.REVOKE)
    assert first.idempotency_key(Operation.GRANT) != _grant("s2").idempotency_key(Operation.GRANT)


async def test_registry_without_a_connector_fails_permanently_and_names_the_system() -> None:
    result = await ConnectorRegistry({}).revoke(_grant())
    assert result == GrantResult.failed("no connector for originSystem 'X'")
    assert result.outcome is CallOutcome.FAILED


def test_registry_refuses_two_connectors_differing_only_in_case() -> None:
    registry = ConnectorRegistry({})
    with pytest.raises(ValueError, match="same originSystem"):
        ConnectorRegistry({"A": registry, "a": registry})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "connectors:\n  - {originSystem: SharePointOnline, type: directory}",
            "connectors[0]: the built-in directory delivers only AadGroup",
        ),
        (
            "connectors:\n  - {originSystem: aadgroup, type: webhook, "
            "url: 'https://h.example/x', secret: 0123456789abcdef0}",
            "connectors[0]: AadGroup memberships live in accessflow's own directory",
        ),
    ],
)
def test_each_connector_type_serves_only_what_it_can(text: str, problem: str) -> None:
    with pytest.raises(ConnectorsConfigError) as error:
        parse_connectors_config(text)
    assert problem in str(error.value)


def test_the_example_connectors_file_is_valid() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "connectors.yaml"
    config = load_connectors_config(path, environ={"SAASAPP_WEBHOOK_SECRET": "x" * 32})
    assert config.directory_origin_systems == {"AadGroup"}
    assert [(w.origin_system, str(w.url)) for w in config.webhooks] == [
        ("SaasApp", "http://127.0.0.1:8081/accessflow/grants")
    ]
