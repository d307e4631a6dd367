"""docker-compose.yml and deploy/Dockerfile agree with each other and with the settings.

No Docker engine runs here, so parsing the files is the only check possible: services,
healthchecks, environment, listeners, credentials and ports must all line up.
"""

from __future__ import annotations

import base64
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from accessflow.entrypoints.cli import main as cli
from accessflow.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = ("migrate", "worker", "api")
API_PORT = 8000
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# The minimal broker config lives in the shared design notes and, for the local stack, here.
# The local stack's broker config is the repository's copy of the minimal single-node
# settings (shared/design/local-kafka.md); the container must list every one of them.
KAFKA_CONFIG = ROOT / "deploy" / "local" / "kafka" / "server.properties.in"
# Values that must differ in a container: addresses and the data folder.
PER_HOST_KEYS = {"listeners", "advertised.listeners", "controller.quorum.voters", "log.dirs"}
# The local stack's SASL_SSL listener (docs/security.md) needs the certificates and the SCRAM
# user the stack script makes; the container keeps to PLAINTEXT.
LOCAL_STACK_ONLY = ("sasl.", "listener.name.sasl_ssl.")
SASL_SSL_PROTOCOL = "SASL_SSL:SASL_SSL"


def _env(service: str) -> dict[str, str]:
    return {key: str(value) for key, value in SERVICES[service].get("environment", {}).items()}


def _kafka_env() -> dict[str, str]:
    return _env("kafka")


def _settings_for(service: str) -> Settings:
    env = _env(service)
    overrides = {
        key.removeprefix(ENV_PREFIX).lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX)
    }
    return load_settings(**overrides)


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """``NAME://host:port,…`` → {NAME: (host, port)}; an empty host means all interfaces."""
    result = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        result[name] = (host, int(port))
    return result


def _protocols(kafka: dict[str, str]) -> dict[str, str]:
    """KAFKA_LISTENER_SECURITY_PROTOCOL_MAP → {listener name: security protocol}."""
    items = kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    return {name: protocol for name, _, protocol in (item.partition(":") for item in items)}


def _published(service: str) -> dict[int, int]:
    """Container port → host port, from ``ports: ["host:container"]``."""
    mapping = {}
    for entry in SERVICES[service].get("ports", []):
        *_, host, container = str(entry).split(":")
        mapping[int(container)] = int(host)
    return mapping


def _healthcheck_ports(service: str) -> set[int]:
    test = " ".join(SERVICES[service]["healthcheck"]["test"])
    return {int(port) for port in re.findall(r"https?://[^:/]+:(\d+)/", test)}


def _properties(source: Path) -> dict[str, str]:
    text = source.read_text()
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.partition(" ") for line in lines if line and line[0] != "#")
    ]


def _instructions(name: str) -> list[str]:
    return [rest for word, rest in _dockerfile() if word == name]


def test_compose_defines_kafka_postgres_and_the_accessflow_services() -> None:
    assert {"kafka", "postgres", *APP_SERVICES} <= set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:4.")
    assert SERVICES["postgres"]["image"] == "postgres:16"


def test_accessflow_services_share_one_image_built_from_deploy_dockerfile() -> None:
    images = {SERVICES[name]["image"] for name in APP_SERVICES}
    builds = [SERVICES[name]["build"] for name in APP_SERVICES]
    assert len(images) == 1
    assert all(build == builds[0] for build in builds)
    assert (ROOT / builds[0]["context"] / builds[0]["dockerfile"]).resolve() == DOCKERFILE


@pytest.mark.parametrize("service", sorted(set(SERVICES) - {"migrate"}))
def test_every_long_running_service_has_a_healthcheck(service: str) -> None:
    check = SERVICES[service].get("healthcheck", {})
    assert not check.get("disable", False)
    assert check.get("test"), f"{service} has no healthcheck test"


def test_migrate_is_one_shot_and_the_others_wait_for_it() -> None:
    assert SERVICES["migrate"]["command"] == ["migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    for dependency in ("kafka", "postgres"):
        assert SERVICES["migrate"]["depends_on"][dependency]["condition"] == "service_healthy"
    for service in ("worker", "api"):
        depends = SERVICES[service]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_accessflow_service_runs_a_real_cli_command(service: str) -> None:
    command = SERVICES[service]["command"]
    assert command == [service]
    assert command[0] in cli.commands


def test_every_accessflow_env_key_is_a_settings_field() -> None:
    for service in SERVICES:
        for key in _env(service):
            if key.startswith(ENV_PREFIX):
                field = key.removeprefix(ENV_PREFIX).lower()
                assert field in Settings.model_fields, f"{service}: {key} is not a setting"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_accessflow_service_gets_valid_connection_settings(service: str) -> None:
    env = _env(service)
    assert env["ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    settings = _settings_for(service)
    assert settings.dsn == "postgresql://accessflow:accessflow@postgres:5432/accessflow"
    assert load_settings(database_url=env["ACCESSFLOW_DATABASE_URL"]).dsn == settings.dsn


def test_accessflow_bootstrap_servers_are_advertised_by_the_broker() -> None:
    kafka = _kafka_env()
    advertised = _listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    listeners = _listeners(kafka["KAFKA_LISTENERS"])
    protocols = _protocols(kafka)
    for service in APP_SERVICES:
        settings = _settings_for(service)
        for server in settings.kafka_bootstrap_servers.split(","):
            host, _, port = server.rpartition(":")
            [name] = [n for n, address in advertised.items() if address == (host, int(port))]
            assert host == "kafka"  # the compose service name, resolvable on its network
            assert listeners[name][1] == int(port)
            assert protocols[name] == settings.kafka_security_protocol.value


def test_kafka_listeners_are_coherent() -> None:
    kafka = _kafka_env()
    listeners = _listeners(kafka["KAFKA_LISTENERS"])
    advertised = _listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])
    protocols = _protocols(kafka)
    controller = kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert set(listeners) <= set(protocols)
    assert controller in listeners
    assert controller not in advertised
    assert set(advertised) <= set(listeners)
    assert kafka["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node, _, voter = kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert node == kafka["KAFKA_NODE_ID"]
    assert int(voter.rpartition(":")[2]) == listeners[controller][1]


def test_kafka_host_listener_is_published_on_the_same_port() -> None:
    advertised = _listeners(_kafka_env()["KAFKA_ADVERTISED_LISTENERS"])
    external = [port for host, port in advertised.values() if host == "localhost"]
    assert external, "no listener is advertised for clients on the host"
    assert all(_published("kafka").get(port) == port for port in external)


def test_kafka_cluster_id_is_a_base64_uuid() -> None:
    """The image formats storage with CLUSTER_ID; Kafka wants 16 bytes in URL-safe base64."""
    cluster_id = _kafka_env()["CLUSTER_ID"]
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_every_minimal_broker_setting_has_its_kafka_env_counterpart() -> None:
    kafka = _kafka_env()
    for key, value in _properties(KAFKA_CONFIG).items():
        variable = "KAFKA_" + key.upper().replace(".", "_")
        if variable == "KAFKA_DELETE_TOPIC_ENABLE":
            continue  # the broker's default (true); the local stack only spells it out
        if key.startswith(LOCAL_STACK_ONLY):
            continue
        assert variable in kafka, f"{variable} (for {key}) is missing"
        if key == "listener.security.protocol.map":  # the container adds a host listener
            assert set(value.split(",")) - {SASL_SSL_PROTOCOL} <= set(kafka[variable].split(","))
        elif key not in PER_HOST_KEYS:
            assert kafka[variable].lower() == value.lower(), f"{variable} differs from {key}"


def test_kafka_partition_count_matches_the_topic_setting() -> None:
    assert int(_kafka_env()["KAFKA_NUM_PARTITIONS"]) == _settings_for("migrate").topic_partitions


def test_postgres_credentials_agree_with_the_database_url() -> None:
    postgres = _env("postgres")
    url = urlsplit(_settings_for("worker").dsn)
    assert url.hostname == "postgres"
    assert url.port == 5432
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == postgres["POSTGRES_DB"]
    check = SERVICES["postgres"]["healthcheck"]["test"]
    assert check[check.index("-U") + 1] == postgres["POSTGRES_USER"]
    assert check[check.index("-d") + 1] == postgres["POSTGRES_DB"]


def test_worker_publishes_and_checks_its_metrics_port() -> None:
    port = _settings_for("worker").metrics_port
    assert port in _published("worker")
    assert _healthcheck_ports("worker") == {port}


def test_api_publishes_and_checks_port_8000() -> None:
    assert _published("api") == {API_PORT: API_PORT}
    assert _healthcheck_ports("api") == {API_PORT}


def test_broker_and_database_data_live_in_declared_named_volumes() -> None:
    declared = set(COMPOSE["volumes"])
    for service, path in (("kafka", _kafka_env()["KAFKA_LOG_DIRS"]), ("postgres", None)):
        mounts = [str(v).split(":") for v in SERVICES[service]["volumes"]]
        assert all(source in declared for source, *_ in mounts)
        if path is not None:
            assert [path] == [target for _, target, *_ in mounts]


def test_dockerfile_is_multi_stage_from_python_311_slim() -> None:
    stages = _instructions("FROM")
    assert len(stages) >= 2
    assert all(stage.startswith("python:3.11-slim") for stage in stages)
    assert any("--from=" in copy for copy in _instructions("COPY"))


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = _instructions("USER")
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_entrypoint_is_the_console_script_and_defaults_to_the_worker() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'accessflow = "accessflow.entrypoints.cli:main"' in pyproject
    assert _instructions("ENTRYPOINT") == ['["accessflow"]']
    assert _instructions("CMD")[-1] == '["worker"]'


def test_dockerfile_exposes_the_api_and_metrics_ports_and_checks_healthz() -> None:
    metrics_port = Settings.model_fields["metrics_port"].default
    exposed = {int(port) for line in _instructions("EXPOSE") for port in shlex.split(line)}
    assert exposed == {API_PORT, metrics_port}
    [healthcheck] = _instructions("HEALTHCHECK")
    assert f"'{metrics_port}'" in healthcheck
    assert "/healthz" in healthcheck
    assert "urllib.request" in healthcheck


def test_dockerignore_keeps_local_state_out_but_the_build_inputs_in() -> None:
    lines = (line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines())
    ignored = {line for line in lines if line and not line.startswith("#")}
    assert {".git", ".venv", ".stack", ".mypy_cache", ".pytest_cache"} <= ignored
    copied = {
        word for line in _instructions("COPY") if "--from=" not in line for word in line.split()
    }
    for needed in ("pyproject.toml", "README.md", "src"):
        assert needed in copied
        assert needed not in ignored


# ------------------------------------------------ Prometheus and Grafana (the chart's files)


def _mounts(service: str) -> dict[str, Path]:
    """Container path → host path of the service's bind mounts (named volumes left out)."""
    mounts = {}
    for entry in SERVICES[service].get("volumes", []):
        source, target, *_ = str(entry).split(":")
        if source.startswith("./"):
            mounts[target] = ROOT / source
    return mounts


def _mounted_file(service: str, container_path: str) -> Path:
    """The host file behind ``container_path``, directly or inside a mounted folder."""
    for target, source in _mounts(service).items():
        if container_path == target or container_path.startswith(target + "/"):
            return source / Path(container_path).relative_to(target)
    raise AssertionError(f"{service}: nothing is mounted at {container_path}")


def _prometheus_config() -> dict[str, Any]:
    path = _mounted_file("prometheus", "/etc/prometheus/prometheus.yml")
    flag = "--config.file=/etc/prometheus/prometheus.yml"
    assert flag in SERVICES["prometheus"]["command"]
    return dict(yaml.safe_load(path.read_text()))


def test_every_bind_mount_names_a_file_of_the_repository() -> None:
    for service in SERVICES:
        for source in _mounts(service).values():
            assert source.exists(), f"{service} mounts {source}, which does not exist"


def test_prometheus_loads_the_charts_alert_rules() -> None:
    chart_alerts = ROOT / "deploy" / "helm" / "accessflow" / "files" / "alerts.yaml"
    [rule_file] = _prometheus_config()["rule_files"]
    assert _mounted_file("prometheus", rule_file) == chart_alerts


def test_prometheus_scrapes_the_worker_as_the_job_the_alerts_select() -> None:
    worker_env = _env("worker")
    port = _settings_for("worker").metrics_port
    assert worker_env["ACCESSFLOW_METRICS_HOST"] == "0.0.0.0"  # reachable from Prometheus
    [job] = _prometheus_config()["scrape_configs"]
    assert [config["targets"] for config in job["static_configs"]] == [[f"worker:{port}"]]
    alerts = (ROOT / "deploy" / "helm" / "accessflow" / "files" / "alerts.yaml").read_text()
    assert set(re.findall(r'job="([^"]+)"', alerts)) == {job["job_name"]}


def test_prometheus_image_is_the_release_promtool_checks_the_rules_with() -> None:
    installer = (ROOT / "deploy" / "tools" / "install").read_text()
    [minor, patch] = re.findall(r"github.com/prometheus/prometheus v0\.(\d+)\.(\d+) ", installer)[0]
    image = SERVICES["prometheus"]["image"]
    assert image == f"prom/prometheus:v3.{int(minor) - 300}.{patch}"


def test_grafana_reads_prometheus_and_provisions_the_charts_dashboard() -> None:
    provisioning = _mounted_file("grafana", "/etc/grafana/provisioning")
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus"
    assert urlsplit(source["url"]).hostname == "prometheus"
    assert urlsplit(source["url"]).port == 9090
    assert _published("prometheus") == {9090: 9090}
    [provider] = yaml.safe_load((provisioning / "dashboards" / "accessflow.yml").read_text())[
        "providers"
    ]
    folder = provider["options"]["path"]
    chart_dashboard = ROOT / "deploy" / "helm" / "accessflow" / "files" / "dashboard.json"
    assert _mounted_file("grafana", f"{folder}/accessflow.json") == chart_dashboard
    assert SERVICES["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
