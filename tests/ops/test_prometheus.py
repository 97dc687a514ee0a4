"""The alert rules and the scrape configuration, checked by Prometheus's own tools: promtool
validates and unit-tests the rules, and a real Prometheus scrapes a running desk with its token."""

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
TOKEN = "prometheus-scrape-token"


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        service_missing(f"{name} is not installed (apt-get install prometheus; .ci/run does)")
    return path


def run(argv: list[str], cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_finds_the_alert_rules_valid():
    result = run([tool("promtool"), "check", "rules", "alerts.yml"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_the_alert_rules_fire_as_their_unit_tests_say():
    result = run([tool("promtool"), "test", "rules", "alerts.test.yml"])

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_the_seed_names_is_a_rule_with_a_runbook_section():
    rules = [rule for group in yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"] for rule in group["rules"]]
    names = {rule["alert"] for rule in rules}
    runbook = (ROOT / "docs" / "operations.md").read_text()

    assert {
        "CircuitBreakerOpen",
        "HighAPIErrorRate",
        "HighOrderLatency",
        "LowFillRate",
        "StrategyNegativePnL",
        "DeskDown",
    } <= names
    assert {"ReconciliationMismatch", "ReconciliationStale"} <= names
    assert [name for name in sorted(names) if f"### {name}" not in runbook] == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture
def prometheus(tmp_path, live_server, settings):
    """The compose profile's Prometheus configuration, pointed at this test's desk and token
    (and scraping every second), run by the real Prometheus."""
    binary = tool("prometheus")
    settings.METRICS_TOKEN = TOKEN
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    # Often, so the test is short; a scrape may take its whole interval on a busy machine.
    config["global"].update(scrape_interval="3s", scrape_timeout="3s", evaluation_interval="3s")
    (tmp_path / "metrics-token").write_text(TOKEN)
    (tmp_path / "wrong-token").write_text("not-the-token")
    desk = config["scrape_configs"][0]
    desk["authorization"]["credentials_file"] = str(tmp_path / "metrics-token")
    desk["static_configs"] = [{"targets": [live_server.url.removeprefix("http://")]}]
    intruder = {
        **desk,
        "job_name": "intruder",
        "authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "wrong-token")},
    }
    config["scrape_configs"].append(intruder)
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    assert run([tool("promtool"), "check", "config", "prometheus.yml"], cwd=tmp_path).returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "w"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def targets_when_scraped(prometheus: str, timeout: float = 90) -> dict[str, dict]:
    """The targets once the desk's is up (a scrape that timed out on a busy machine is retried)
    and the intruder's was tried, or as they stand at the timeout."""
    deadline, by_job = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        try:
            targets = get_json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
            by_job = {target["labels"]["job"]: target for target in targets}
            if by_job.get("tradedesk", {}).get("health") == "up" and by_job.get("intruder", {}).get("health") != "unknown":
                return by_job
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    return by_job


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_the_desk_with_its_token_and_loads_the_rules(prometheus):
    targets = targets_when_scraped(prometheus)

    assert targets["tradedesk"]["health"] == "up", targets["tradedesk"]["lastError"]
    assert targets["intruder"]["health"] == "down" and "401" in targets["intruder"]["lastError"]
    rules = [rule["name"] for group in get_json(f"{prometheus}/api/v1/rules")["data"]["groups"] for rule in group["rules"]]
    assert "CircuitBreakerOpen" in rules and len(rules) == 10
    found = get_json(f"{prometheus}/api/v1/query?query=tradedesk_heartbeat_age_seconds%20or%20up")["data"]["result"]
    assert {sample["metric"]["__name__"] for sample in found} >= {"up"}
