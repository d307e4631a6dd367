"""The Grafana dashboard: valid JSON Grafana can load, laid out without overlaps, every
query on the chosen data source, and a panel for each thing an operator watches."""

from __future__ import annotations

from deploy_support import dashboard, metric_names, panel_exprs

# What the dashboard must show (the list), as the metric each panel reads.
WATCHED = {
    "throughput by command type and outcome": "accessflow_commands_total",
    "transitions by state": "accessflow_transitions_total",
    "latency percentiles": "accessflow_command_latency_seconds_bucket",
    "lag per partition": "accessflow_consumer_lag",
    "outbox backlog": "accessflow_outbox_backlog",
    "outbox age": "accessflow_outbox_oldest_age_seconds",
    "dead letters": "accessflow_dead_lettered_total",
    "parked events": "accessflow_events_parked_total",
    "connector calls by outcome": "accessflow_grant_calls_total",
    "grants due": "accessflow_grants_due",
    "worker readiness": "accessflow_ready",
}


def test_dashboard_has_an_identity_and_a_data_source_variable() -> None:
    document = dashboard()
    assert document["uid"] == "accessflow"
    assert document["title"]
    assert isinstance(document["schemaVersion"], int)
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area


def test_every_query_uses_the_chosen_data_source_and_the_worker_job() -> None:
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert 'job=~"$job"' in target["expr"], f"{panel['title']}: {target['expr']}"


def test_a_panel_shows_each_thing_an_operator_watches() -> None:
    shown = {name for _, expr in panel_exprs() for name in metric_names(expr)}
    missing = {what: metric for what, metric in WATCHED.items() if metric not in shown}
    assert not missing


def test_latency_panel_shows_percentiles_of_the_histogram() -> None:
    latency = [expr for _, expr in panel_exprs() if "histogram_quantile" in expr]
    quantiles = sorted(expr.split("(")[1].split(",")[0] for expr in latency)
    assert quantiles == ["0.5", "0.95", "0.99"]
    assert all("accessflow_command_latency_seconds_bucket" in expr for expr in latency)
    assert all("sum by (le)" in expr for expr in latency)
