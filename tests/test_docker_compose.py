"""docker-compose.yml describes the production desk; every command it runs must exist here."""

import shlex
from pathlib import Path

import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_SERVICES = {
    "postgres",
    "redis",
    "web",
    "worker",
    "research-worker",
    "alerts-worker",
    "beat",
    "simexchange",
    "relay",
    "migrate",
}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_compose_has_every_desk_service_with_a_health_check():
    services = _compose()["services"]
    assert REQUIRED_SERVICES <= set(services)
    long_running = REQUIRED_SERVICES - {"migrate"}
    assert [name for name in long_running if "healthcheck" not in services[name]] == []


def test_every_desk_service_gets_the_same_environment():
    services = _compose()["services"]
    desk = [services[name] for name in REQUIRED_SERVICES - {"postgres", "redis"}]
    environments = {tuple(sorted(service["environment"].items())) for service in desk}
    assert len(environments) == 1
    assert {"DATABASE_URL", "REDIS_URL"} <= set(desk[0]["environment"])


def test_every_management_command_that_compose_runs_exists():
    known = set(get_commands())
    commands = []
    for service in _compose()["services"].values():
        argv = _command(service)
        if argv[:1] == ["sh"]:
            argv = shlex.split(argv[-1].replace("&&", " ; "))
        commands += [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == "manage.py"]
    assert commands, "compose runs no manage.py command?"
    assert [name for name in commands if name not in known] == []


def test_compose_runs_the_project_asgi_app_and_celery_app():
    services = _compose()["services"]
    assert "tradedesk.asgi:application" in _command(services["web"])
    assert _command(services["worker"])[:5] == ["python", "-m", "celery", "-A", "tradedesk"]
    assert (ROOT / "tradedesk" / "asgi.py").exists() and (ROOT / "tradedesk" / "celery.py").exists()


def test_every_variable_compose_sets_is_documented_in_env_example():
    documented = {
        line.split("=")[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    services = _compose()["services"]
    used = {name for service in services.values() if "build" in service for name in service.get("environment", {})}
    assert used <= documented


def test_compose_publishes_ports_on_this_machine_only():
    published = [port for service in _compose()["services"].values() for port in service.get("ports", [])]
    assert published, "the web port is published for the local browser"
    assert [port for port in published if not str(port).startswith("127.0.0.1:")] == []


def test_compose_passes_the_metrics_token_to_the_desk():
    assert "METRICS_TOKEN" in _compose()["services"]["web"]["environment"]


def test_every_long_running_service_is_restarted_when_it_dies():
    services = _compose()["services"]
    long_running = set(services) - {"migrate"}
    assert {name: services[name].get("restart") for name in long_running} == dict.fromkeys(long_running, "unless-stopped")


def test_the_monitoring_profile_adds_prometheus_and_grafana_only_when_asked():
    services = _compose()["services"]

    assert {name for name, service in services.items() if "monitoring" in service.get("profiles", [])} == {
        "prometheus",
        "grafana",
    }
    assert all(not services[name].get("profiles") for name in REQUIRED_SERVICES)


def test_prometheus_scrapes_the_web_service_with_the_desks_token_and_loads_the_rules():
    prometheus = _compose()["services"]["prometheus"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]

    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert job["static_configs"] == [{"targets": ["web:8000"]}] and job["metrics_path"] == "/metrics"
    token_file = job["authorization"]["credentials_file"]
    assert f"> {token_file}" in prometheus["entrypoint"][-1] and "$$METRICS_TOKEN" in prometheus["entrypoint"][-1]
    assert prometheus["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
    assert [(ROOT / "deploy" / "prometheus" / name).exists() for name in config["rule_files"]] == [True]
    assert "web" in _compose()["x-desk"]["environment"]["ALLOWED_HOSTS"]


def test_grafana_is_provisioned_with_the_prometheus_source_and_the_desks_dashboard():
    import json

    grafana = _compose()["services"]["grafana"]
    mounts = {volume.split(":")[1]: ROOT / volume.split(":")[0] for volume in grafana["volumes"] if volume.startswith("./")}
    provider = yaml.safe_load((mounts["/etc/grafana/provisioning"] / "dashboards" / "tradedesk.yml").read_text())
    [source] = yaml.safe_load((mounts["/etc/grafana/provisioning"] / "datasources" / "prometheus.yml").read_text())["datasources"]
    dashboard = json.loads((mounts[provider["providers"][0]["options"]["path"]] / "tradedesk.json").read_text())

    assert source["url"] == "http://prometheus:9090"
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == ["Order flow", "Positions", "Strategies", "System health"]
    used = {panel["datasource"]["uid"] for panel in dashboard["panels"] if panel["type"] != "row"}
    assert used == {source["uid"]}


def test_every_desk_process_counts_into_one_shared_metrics_volume():
    services = _compose()["services"]
    desk = [services[name] for name in REQUIRED_SERVICES - {"postgres", "redis"}]
    folder = desk[0]["environment"]["PROMETHEUS_MULTIPROC_DIR"]

    assert all(f"metrics:{folder}" in service["volumes"] for service in desk)
    assert "metrics" in _compose()["volumes"]


def test_every_queue_has_a_worker_and_backtests_and_alerts_have_their_own():
    from tradedesk.celery import QUEUES

    services = _compose()["services"]
    consumed = {}
    for name in ("worker", "research-worker", "alerts-worker"):
        argv = _command(services[name])
        consumed[name] = set(argv[argv.index("-Q") + 1].split(","))
    assert consumed["worker"] | consumed["research-worker"] | consumed["alerts-worker"] == set(QUEUES)
    assert consumed["research-worker"] == {"research"} and "research" not in consumed["worker"]
    assert consumed["alerts-worker"] == {"alerts"} and "alerts" not in consumed["worker"]
