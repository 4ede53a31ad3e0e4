"""The shipped Prometheus rules and Grafana dashboard: well-formed, over metrics that exist."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from inprocess_master import InProcessMaster

EXAMPLES = Path(__file__).parents[2] / "examples"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_info")


def exported_names(tmp_path: Path) -> set[str]:
    """Every sample name of a real scrape of a master with one worker."""
    with InProcessMaster(tmp_path / "data") as master:
        master.create_worker("w1", cpus=1)
        master.register("w1")
        r = master.api.get(master.url + "/metrics")
        assert r.status_code == 200, r.text
    # A family is exported even while it has no sample (a worker's memory before it is measured).
    families = {line.split()[2] for line in r.text.splitlines() if line.startswith("# TYPE ")}
    samples = {
        line.split("{")[0].split(" ")[0] for line in r.text.splitlines() if line[:1].isalpha()
    }
    names = families | samples
    return names | {n.removesuffix(s) for n in names for s in SUFFIXES}


def corral_names(expr: str) -> set[str]:
    """The corral metric names an expression reads."""
    return set(re.findall(r"\bcorral_[a-z_]+", expr))


@pytest.fixture(scope="module")
def names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The names the master exports."""
    return exported_names(tmp_path_factory.mktemp("scrape"))


def test_rules_file_has_the_shape_prometheus_loads(names: set[str]) -> None:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "prometheus" / "corral-rules.yml").read_text())
    assert set(doc) == {"groups"}
    alerts = []
    for group in doc["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
            assert DURATION.match(rule["for"]), rule["for"]
            assert rule["labels"]["severity"] in {"info", "warning", "critical"}
            assert rule["annotations"]["summary"]
            assert rule["expr"].count("(") == rule["expr"].count(")")
            assert corral_names(rule["expr"]) <= names, rule["alert"]
            alerts.append(rule["alert"])
    assert len(alerts) == len(set(alerts)) >= 10


def test_scrape_config_sends_the_token() -> None:
    doc = yaml.safe_load((EXAMPLES / "prometheus" / "prometheus.yml").read_text())
    (job,) = doc["scrape_configs"]
    assert job["authorization"]["type"] == "Bearer" and job["authorization"]["credentials_file"]


def test_dashboard_reads_only_exported_metrics(names: set[str]) -> None:
    dashboard = json.loads((EXAMPLES / "grafana" / "corral-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        assert corral_names(expr) and corral_names(expr) <= names, expr
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
