"""Hardened start: what the API refuses off loopback, the development-mode warning, the
token lifetime cap, and the metrics server's address."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from structlog.testing import capture_logs

from accessflow.api.app import create_app
from accessflow.api.auth import MAX_TOKEN_TTL_SECONDS, mint_token
from accessflow.api.exposure import (
    DEVELOPMENT_SECRET,
    check_exposure,
    exposure_problems,
    is_loopback,
)
from accessflow.entrypoints.cli import main as cli
from accessflow.entrypoints.observability import Health, Metrics, serve
from accessflow.settings import ENV_PREFIX, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k3Y8v0Qm2rT5wZ1xC7nB4hJ6gF9dS0aLpO"  # 34 bytes
SHORT = "too-short-secret"
EVERYWHERE = "0.0.0.0"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` runs with the stack's ACCESSFLOW_* set; these tests start from none."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def _settings(host: str, secret: str | None = None, **extra: Any) -> Settings:
    return load_settings(
        api_host=host, auth_hs256_secret=SecretStr(secret) if secret else None, **extra
    )


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "localhost", "LocalHost", "::1", "[::1]"]
)
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.10", "api.internal", "", "localhost.example"]
)
def test_other_addresses_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (SHORT, "shorter than 32 bytes"),
        ("x" * 31, "shorter than 32 bytes"),
        (DEVELOPMENT_SECRET, "published development secret"),
    ],
    ids=["short", "31-bytes", "development"],
)
def test_a_weak_secret_is_refused_off_loopback(secret: str, reason: str) -> None:
    with pytest.raises(SettingsError) as raised:
        check_exposure(_settings(EVERYWHERE, secret))
    message = str(raised.value)
    assert "ACCESSFLOW_AUTH_HS256_SECRET" in message
    assert reason in message
    assert "listen on '0.0.0.0' (ACCESSFLOW_API_HOST), not loopback" in message
    assert secret not in message.replace(DEVELOPMENT_SECRET, "")  # a real secret is not echoed


@pytest.mark.parametrize("secret", [SHORT, DEVELOPMENT_SECRET])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_a_weak_secret_is_allowed_on_loopback(secret: str, host: str) -> None:
    assert exposure_problems(_settings(host, secret)) == []


@pytest.mark.parametrize("secret", [STRONG, "é" * 16, None], ids=["ascii", "32-utf8-bytes", "none"])
def test_a_strong_or_absent_secret_may_listen_anywhere(secret: str | None) -> None:
    assert exposure_problems(_settings(EVERYWHERE, secret)) == []


def test_the_development_secret_is_the_makefiles() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    [value] = re.findall(r"^DEV_SECRET \?= (\S+)$", makefile, flags=re.MULTILINE)
    assert value == DEVELOPMENT_SECRET


def test_development_mode_is_refused_off_loopback() -> None:
    settings = _settings("10.0.0.5", STRONG, auth_dev_unauthenticated=True)
    with pytest.raises(SettingsError, match="ACCESSFLOW_AUTH_DEV_UNAUTHENTICATED"):
        check_exposure(settings)
    with pytest.raises(SettingsError, match="ACCESSFLOW_AUTH_DEV_UNAUTHENTICATED"):
        create_app(settings)


def test_every_problem_is_named_at_once() -> None:
    problems = exposure_problems(_settings(EVERYWHERE, SHORT, auth_dev_unauthenticated=True))
    assert [p.split(" ", 1)[0] for p in problems] == [
        "ACCESSFLOW_AUTH_HS256_SECRET",
        "ACCESSFLOW_AUTH_DEV_UNAUTHENTICATED",
    ]


def test_create_app_refuses_a_weak_secret_off_loopback() -> None:
    with pytest.raises(SettingsError, match="ACCESSFLOW_AUTH_HS256_SECRET"):
        create_app(_settings(EVERYWHERE, SHORT))


def test_development_mode_on_loopback_warns_loudly_at_start() -> None:
    with capture_logs() as logs:
        create_app(_settings("127.0.0.1", auth_dev_unauthenticated=True))
        create_app(_settings("127.0.0.1", STRONG))
    warnings = [e for e in logs if e["event"] == "auth.unauthenticated_mode"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["host"] == "127.0.0.1"


def _accessflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # A subprocess with a timeout: were the check missing, the server would start and serve.
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
    return subprocess.run(
        [sys.executable, "-m", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_accessflow_api_refuses_to_listen_everywhere_with_a_short_secret() -> None:
    env = {"ACCESSFLOW_AUTH_HS256_SECRET": SHORT, "ACCESSFLOW_API_PORT": "0"}
    done = _accessflow(env, "accessflow.entrypoints.cli", "api", "--host", EVERYWHERE)
    assert done.returncode == 1
    assert "the API refuses to start" in done.stderr
    assert "ACCESSFLOW_AUTH_HS256_SECRET is shorter than 32 bytes" in done.stderr


def test_make_run_refuses_the_development_secret_off_loopback_before_migrating() -> None:
    env = {
        "ACCESSFLOW_AUTH_HS256_SECRET": DEVELOPMENT_SECRET,
        "ACCESSFLOW_API_HOST": EVERYWHERE,
        # Nothing answers here: had the check come after migrating, the run would hang on it.
        "ACCESSFLOW_DATABASE_URL": "postgresql://nobody:nothing@127.0.0.1:9/none",
    }
    done = _accessflow(env, "accessflow.entrypoints.run")
    assert done.returncode == 2
    assert "published development secret" in done.stderr


def test_the_token_lifetime_is_capped() -> None:
    runner = CliRunner(env={"ACCESSFLOW_AUTH_HS256_SECRET": STRONG})
    too_long = runner.invoke(
        cli, ["token", "--user", "u1", "--ttl", str(MAX_TOKEN_TTL_SECONDS + 1)]
    )
    assert too_long.exit_code == 2
    assert f"'--ttl': {MAX_TOKEN_TTL_SECONDS + 1} is not in the range" in too_long.output
    longest = runner.invoke(cli, ["token", "--user", "u1", "--ttl", str(MAX_TOKEN_TTL_SECONDS)])
    assert longest.exit_code == 0, longest.output
    settings = load_settings()
    claims = jwt.decode(
        longest.output.strip(), STRONG, algorithms=["HS256"], audience=settings.auth_audience
    )
    assert claims["exp"] - claims["iat"] == MAX_TOKEN_TTL_SECONDS


@pytest.mark.parametrize("ttl", [0, MAX_TOKEN_TTL_SECONDS + 1])
def test_mint_token_refuses_a_lifetime_out_of_bounds(ttl: int) -> None:
    with pytest.raises(ValueError, match=f"1 to {MAX_TOKEN_TTL_SECONDS} seconds"):
        mint_token(_settings("127.0.0.1", STRONG), "u1", ttl_seconds=ttl)


def test_the_metrics_server_listens_on_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().metrics_host == "127.0.0.1"
    monkeypatch.setenv("ACCESSFLOW_METRICS_HOST", "0.0.0.0")
    assert load_settings().metrics_host == "0.0.0.0"
    health = Health()
    server = serve(0, health, Metrics(health), host="127.0.0.1")
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_container_image_listens_for_probes_on_every_interface() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert "ACCESSFLOW_METRICS_HOST=0.0.0.0" in dockerfile
