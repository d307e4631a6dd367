"""The alerts: promtool accepts them (as the rule file and as the chart renders them), they
fire on the series they are meant for and stay quiet otherwise (promtool's rule tests), and
each has a summary, a description and a runbook link to a section that exists."""

from __future__ import annotations

from pathlib import Path

import yaml
from deploy_support import ALERTS, ALL_ON, OPERATIONS, ROOT, alert_rules, find, heading_anchors

RULE_TESTS = Path(__file__).with_name("alerts_test.yaml")
# docs/operations.md names these; the issue asks for each.
EXPECTED_ALERTS = {
    "AccessflowConsumerLagGrowing",
    "AccessflowOutboxStalled",
    "AccessflowDeadLetters",
    "AccessflowGrantsOverdue",
    "AccessflowEventsParked",
    "AccessflowWorkerNotReady",
    "AccessflowNoWorkers",
}


def test_promtool_accepts_the_rule_file(tools) -> None:
    result = tools.run(tools.promtool, "check", "rules", ALERTS)
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_promtool_accepts_the_rules_the_chart_renders(tools, tmp_path: Path) -> None:
    rule = find(tools.render("-f", str(ALL_ON)), "PrometheusRule")
    extracted = tmp_path / "rendered-rules.yaml"
    extracted.write_text(yaml.safe_dump(rule["spec"]))
    result = tools.run(tools.promtool, "check", "rules", extracted)
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_alerts_fire_on_their_series_and_stay_quiet_otherwise(tools) -> None:
    result = tools.run(tools.promtool, "test", "rules", RULE_TESTS)
    assert "SUCCESS" in result.stdout


def test_the_rule_tests_cover_every_alert() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == EXPECTED_ALERTS


def test_every_alert_is_documented_with_a_runbook_section_that_exists() -> None:
    anchors = heading_anchors(OPERATIONS.read_text())
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == EXPECTED_ALERTS
    for rule in rules:
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: docs/operations.md has no #{anchor}"
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_promtool_accepts_docker_composes_prometheus_config(tools) -> None:
    # --syntax-only: the rule file it names is a path inside the container.
    config = ROOT / "deploy" / "prometheus" / "prometheus.yml"
    result = tools.run(tools.promtool, "check", "config", "--syntax-only", config)
    assert "SUCCESS" in result.stdout
