"""The Helm chart: it lints, renders with the default values and with every option on, and
every object it renders is valid against the Kubernetes and CRD schemas (kubeconform,
strict). Values that cannot work fail the render with a message that says why."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import ALERTS, ALL_ON, CHART, DASHBOARD, containers, find

from accessflow.adapters.catalog_file import parse_catalog_text
from accessflow.adapters.connectors_config import parse_connectors_config
from accessflow.settings import ENV_PREFIX, Settings, load_settings

RENDERS = {
    "defaults": [],
    "all-on": ["-f", str(ALL_ON)],
    "all-on, HPA instead of KEDA": [
        "-f",
        str(ALL_ON),
        "--set",
        "worker.autoscaling.keda.enabled=false",
    ],
}


@pytest.fixture(scope="module")
def rendered(tools) -> dict[str, list[dict[str, Any]]]:
    return {name: tools.render(*args) for name, args in RENDERS.items()}


@pytest.mark.parametrize("values", [[], ["-f", str(ALL_ON)]], ids=["defaults", "all-on"])
def test_helm_lint_passes_strictly(tools, values: list[str]) -> None:
    result = tools.run(tools.helm, "lint", "--strict", CHART, *values)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("render", sorted(RENDERS))
def test_every_rendered_object_is_valid_against_its_schema(tools, render: str) -> None:
    manifest = tools.template(*RENDERS[render]).stdout
    result = tools.run(
        tools.kubeconform,
        "-strict",
        "-summary",
        "-output",
        "json",
        "-schema-location",
        f"{tools.schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        "-",
        check=False,
        stdin=manifest,
    )
    report = json.loads(result.stdout)
    assert result.returncode == 0, json.dumps(report["resources"], indent=1)
    summary = report["summary"]
    assert summary["valid"] == len([d for d in yaml.safe_load_all(manifest) if d])
    assert summary["invalid"] == summary["errors"] == summary["skipped"] == 0


def test_defaults_render_the_worker_api_and_migrate_hook_only(rendered) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in rendered["defaults"])
    assert kinds == [
        ("Deployment", "rel-accessflow-api"),
        ("Deployment", "rel-accessflow-worker"),
        ("Job", "rel-accessflow-migrate"),
        ("PodDisruptionBudget", "rel-accessflow-api"),
        ("PodDisruptionBudget", "rel-accessflow-worker"),
        ("Secret", "rel-accessflow"),
        ("Secret", "rel-accessflow-migrate"),
        ("Service", "rel-accessflow-api"),
        ("Service", "rel-accessflow-worker-metrics"),
        ("ServiceAccount", "rel-accessflow"),
    ]


def test_all_on_renders_every_optional_object(rendered) -> None:
    kinds = {d["kind"] for d in rendered["all-on"]}
    assert {
        "ScaledObject",
        "TriggerAuthentication",
        "ServiceMonitor",
        "PrometheusRule",
        "Ingress",
        "ConfigMap",
    } <= kinds
    assert "HorizontalPodAutoscaler" not in kinds
    assert len([d for d in rendered["all-on"] if d["kind"] == "Deployment"]) == 3  # + relay
    fallback = {d["kind"] for d in rendered["all-on, HPA instead of KEDA"]}
    assert "HorizontalPodAutoscaler" in fallback
    assert not {"ScaledObject", "TriggerAuthentication"} & fallback


def test_keda_scales_the_worker_on_the_commands_topic_lag_within_the_partitions(rendered) -> None:
    values = yaml.safe_load(ALL_ON.read_text())
    scaled = find(rendered["all-on"], "ScaledObject")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "rel-accessflow-worker"
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    assert scaled["maxReplicaCount"] <= values["kafka"]["topicPartitions"]
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["bootstrapServers"] == values["kafka"]["bootstrapServers"]
    assert metadata["consumerGroup"] == Settings.model_fields["consumer_group_id"].default
    assert metadata["topic"] == Settings.model_fields["commands_topic"].default
    assert int(metadata["lagThreshold"]) > 0
    assert (metadata["sasl"], metadata["tls"]) == ("scram_sha512", "enable")
    auth = find(rendered["all-on"], "TriggerAuthentication")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    parameters = {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]}
    assert parameters == {"password", "ca", "cert", "key"}
    hpa = find(rendered["all-on, HPA instead of KEDA"], "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (
        scaled["minReplicaCount"],
        scaled["maxReplicaCount"],
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["--set", "worker.replicaCount=7"], "exceed kafka.topicPartitions (6)"),
        (
            ["--set", "worker.autoscaling.enabled=true,worker.autoscaling.maxReplicas=7"],
            "exceed kafka.topicPartitions (6)",
        ),
        (
            ["--set", "worker.autoscaling.enabled=true,worker.autoscaling.minReplicas=0"],
            "at '/worker/autoscaling/minReplicas': minimum: got 0, want 1",
        ),
        (
            [
                "--set",
                "worker.autoscaling.enabled=true,worker.autoscaling.minReplicas=5,"
                "worker.autoscaling.maxReplicas=3",
            ],
            "minReplicas (5) is larger than worker.autoscaling.maxReplicas (3)",
        ),
        (["--set", "workers.replicaCount=3"], "additional properties 'workers' not allowed"),
        (["--set", "kafka.topicPartitions=0"], "at '/kafka/topicPartitions': minimum"),
        (["--set", "extraEnv.LOG_LEVEL=debug"], "does not match pattern '^ACCESSFLOW_"),
        (["--set", "kafka.securityProtocol=TLS"], "at '/kafka/securityProtocol'"),
        (["--set", "connectors.secretEnv.HOOK_SECRET=short"], "minLength"),
        (
            ["--set", "worker.terminationGracePeriodSeconds=40"],
            "must exceed worker.shutdownTimeoutSeconds",
        ),
        (["--set", "kafka.securityProtocol=SASL_SSL"], "kafka.sasl.mechanism is empty"),
        (["--set", "database.url="], "set database.url or database.existingSecret"),
    ],
)
def test_values_that_cannot_work_fail_the_render_with_a_reason(
    tools, overrides: list[str], message: str
) -> None:
    result = tools.template(*overrides, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_more_partitions_allow_more_workers(tools) -> None:
    documents = tools.render("--set", "worker.replicaCount=12,kafka.topicPartitions=12")
    assert find(documents, "Deployment", "rel-accessflow-worker")["spec"]["replicas"] == 12


@pytest.mark.parametrize("render", sorted(RENDERS))
def test_every_accessflow_variable_is_a_setting(rendered, render: str) -> None:
    for owner, container in containers(rendered[render]):
        for variable in container.get("env", []):
            if variable["name"].startswith(ENV_PREFIX):
                field = variable["name"].removeprefix(ENV_PREFIX).lower()
                assert field in Settings.model_fields, f"{owner}: {variable['name']}"


@pytest.mark.parametrize("render", sorted(RENDERS))
def test_pods_run_unprivileged_on_a_read_only_root(rendered, render: str) -> None:
    for document in rendered[render]:
        if document["kind"] not in ("Deployment", "Job"):
            continue
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
            assert set(container["resources"]) == {"requests", "limits"}


def test_worker_probes_its_metrics_port_and_outlives_its_drain(rendered) -> None:
    worker = find(rendered["defaults"], "Deployment", "rel-accessflow-worker")["spec"]
    pod = worker["template"]["spec"]
    [container] = pod["containers"]
    env = {v["name"]: v.get("value") for v in container["env"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    [port] = container["ports"]
    assert port["containerPort"] == int(env["ACCESSFLOW_METRICS_PORT"]) == 9464
    assert env["ACCESSFLOW_METRICS_HOST"] == "0.0.0.0"  # reachable by probes and Prometheus
    assert pod["terminationGracePeriodSeconds"] > float(env["ACCESSFLOW_SHUTDOWN_TIMEOUT_SECONDS"])
    assert worker["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}


def test_api_probes_its_own_health_routes_and_listens_on_all_interfaces(rendered) -> None:
    api = find(rendered["defaults"], "Deployment", "rel-accessflow-api")["spec"]["template"]["spec"]
    [container] = api["containers"]
    env = {v["name"]: v.get("value") for v in container["env"]}
    assert container["args"] == ["api"]
    assert env["ACCESSFLOW_API_HOST"] == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = find(rendered["defaults"], "Service", "rel-accessflow-api")["spec"]
    assert service["ports"][0]["targetPort"] == "http"


def test_with_a_standalone_relay_the_workers_do_not_publish(rendered) -> None:
    worker = find(rendered["all-on"], "Deployment", "rel-accessflow-worker")
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker", "--no-relay"]
    relay = find(rendered["all-on"], "Deployment", "rel-accessflow-relay")
    assert relay["spec"]["template"]["spec"]["containers"][0]["args"] == ["relay"]
    default = find(rendered["defaults"], "Deployment", "rel-accessflow-worker")
    assert default["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]


def test_migrate_runs_as_a_hook_before_the_workloads_with_secrets_of_its_own(rendered) -> None:
    documents = rendered["all-on"]
    job = find(documents, "Job")
    hooks = [d for d in documents if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert {d["kind"] for d in hooks} == {"Job", "Secret", "ConfigMap"}
    for hook in hooks:
        assert hook["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    weights = {d["kind"]: int(d["metadata"]["annotations"]["helm.sh/hook-weight"]) for d in hooks}
    assert max(weights["Secret"], weights["ConfigMap"]) < weights["Job"]
    pod = job["spec"]["template"]["spec"]
    assert [c["args"] for c in pod["initContainers"]] == [["migrate"]]
    assert pod["containers"][0]["args"] == [
        "catalog",
        "apply",
        "/etc/accessflow/catalog/catalog.yaml",
    ]
    hook_names = {d["metadata"]["name"] for d in hooks}
    for container in pod["initContainers"] + pod["containers"]:
        for variable in container["env"]:
            secret = variable.get("valueFrom", {}).get("secretKeyRef")
            if secret:
                assert secret["name"] in hook_names, variable["name"]


def test_rendered_catalog_and_connectors_are_accepted_by_accessflow(rendered) -> None:
    documents = rendered["all-on"]
    catalog = find(documents, "ConfigMap", "rel-accessflow-migrate-catalog")
    parsed = parse_catalog_text(catalog["data"]["catalog.yaml"])
    assert [user.id for user in parsed.users.values()] == ["0d3b5a0c-0000-4000-8000-000000000001"]
    connectors = find(documents, "ConfigMap", "rel-accessflow-connectors")
    secrets = find(documents, "Secret", "rel-accessflow-webhooks")["stringData"]
    config = parse_connectors_config(connectors["data"]["connectors.yaml"], environ=secrets)
    assert [webhook.origin_system for webhook in config.webhooks] == ["SaasApp"]
    worker = find(documents, "Deployment", "rel-accessflow-worker")["spec"]["template"]["spec"]
    env = {v["name"]: v.get("value") for v in worker["containers"][0]["env"]}
    mounts = {m["name"]: m["mountPath"] for m in worker["containers"][0]["volumeMounts"]}
    assert env["ACCESSFLOW_CONNECTORS_FILE"] == f"{mounts['connectors']}/connectors.yaml"


def test_monitoring_objects_carry_the_canonical_rules_and_dashboard(rendered) -> None:
    documents = rendered["all-on"]
    values = yaml.safe_load(ALL_ON.read_text())["metrics"]
    rule = find(documents, "PrometheusRule")["spec"]
    canonical = yaml.safe_load(ALERTS.read_text())
    base = values["prometheusRule"]["runbookBaseUrl"]
    for group, expected in zip(rule["groups"], canonical["groups"], strict=True):
        for got, want in zip(group["rules"], expected["rules"], strict=True):
            url = want["annotations"]["runbook_url"].replace("docs/operations.md", base)
            assert got == want | {"annotations": want["annotations"] | {"runbook_url": url}}
    dashboard = find(documents, "ConfigMap", "rel-accessflow-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["accessflow.json"]) == json.loads(DASHBOARD.read_text())
    monitor = find(documents, "ServiceMonitor")["spec"]
    service = find(documents, "Service", "rel-accessflow-worker-metrics")
    assert service["metadata"]["labels"][monitor["jobLabel"]] == "accessflow-worker"
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert service["spec"]["publishNotReadyAddresses"] is True  # unready workers are scraped


def test_the_schemas_refuse_what_kubernetes_would_refuse(tools, rendered) -> None:
    """The validation has teeth: an unknown field, or a wrong type, in a built-in kind and in
    each CRD kind is reported."""
    documents = copy.deepcopy(rendered["all-on"])
    worker = find(documents, "Deployment", "rel-accessflow-worker")
    worker["spec"]["template"]["spec"]["containers"][0]["resources"]["limitz"] = {"cpu": "1"}
    find(documents, "ScaledObject")["spec"]["maxReplicas"] = 3
    find(documents, "ServiceMonitor")["spec"]["endpoints"][0]["intervall"] = "1s"
    find(documents, "PrometheusRule")["spec"]["groups"][0]["rules"][0]["for"] = 5
    result = tools.run(
        tools.kubeconform,
        "-strict",
        "-output",
        "json",
        "-schema-location",
        f"{tools.schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
        "-",
        check=False,
        stdin=yaml.safe_dump_all(documents),
    )
    assert result.returncode != 0
    invalid = {
        (resource["kind"], resource["name"])
        for resource in json.loads(result.stdout)["resources"]
        if resource["status"] == "statusInvalid"
    }
    assert invalid == {
        ("Deployment", "rel-accessflow-worker"),
        ("ScaledObject", "rel-accessflow-worker"),
        ("ServiceMonitor", "rel-accessflow-worker"),
        ("PrometheusRule", "rel-accessflow"),
    }


@pytest.mark.parametrize("render", sorted(RENDERS))
def test_every_container_environment_is_accepted_by_the_settings(
    rendered, render: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each process starts on the environment the chart gives it (values and Secrets as
    rendered), read the way a process reads it. A path into one of the container's mounted
    volumes (TLS material from a Secret) is given a stand-in file, as the mount would."""
    documents = rendered[render]
    secrets = {
        d["metadata"]["name"]: d.get("stringData", {}) for d in documents if d["kind"] == "Secret"
    }
    for owner, container in containers(documents):
        mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
        with monkeypatch.context() as env:
            for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
                env.delenv(name)
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                value = secrets[ref["name"]][ref["key"]] if ref else variable["value"]
                if any(value.startswith(f"{mount.rstrip('/')}/") for mount in mounts):
                    stand_in = tmp_path / value.lstrip("/")
                    stand_in.parent.mkdir(parents=True, exist_ok=True)
                    stand_in.touch()
                    value = str(stand_in)
                env.setenv(variable["name"], value)
            settings = load_settings()
        assert settings.kafka_bootstrap_servers, owner


def test_traces_are_off_by_default_and_each_component_names_itself_when_on(rendered) -> None:
    """OTEL_* comes from the tracing values (docs/operations.md, Traces): nothing by default;
    with an endpoint, every long-running component exports over OTLP under its own name."""
    for _, container in containers(rendered["defaults"]):
        names = {v["name"] for v in container.get("env", [])}
        assert not {n for n in names if n.startswith("OTEL_") and n != "OTEL_SERVICE_NAME"}
    named = {}
    for owner, container in containers(rendered["all-on"]):
        env = {v["name"]: v.get("value") for v in container.get("env", [])}
        if "OTEL_SERVICE_NAME" in env:
            named[env["OTEL_SERVICE_NAME"]] = owner
            assert env["OTEL_TRACES_EXPORTER"] == "otlp"
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
            assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
    assert sorted(named) == ["accessflow-api", "accessflow-relay", "accessflow-worker"]
