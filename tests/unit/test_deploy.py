"""The production recipe in ``deploy/``: the compose file parses, has every piece, takes every
secret from the environment, probes what the services serve, and names only real settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from interpreter.config import Settings, _setting_name

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OURS = ("worker-1", "worker-2", "web")
NODES = ("livekit-1", "livekit-2")
SECRETS = ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "POSTGRES_PASSWORD")
REQUIRED_REFERENCE = re.compile(r"\$\{(\w+):\?[^}]+\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so anchors merge"
    return {str(k): str(v) for k, v in env.items()}


def test_the_topology_is_complete(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "postgres", *NODES, *OURS}
    for name in OURS:
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert services[name]["command"][:3] == ["python", "-m", "interpreter"]
    for worker in ("worker-1", "worker-2"):
        assert services[worker]["command"][-1] == "worker"
        assert "replicas" in services[worker]["deploy"]
    assert services["web"]["command"][-1] == "web"
    # workers spread over both nodes; nodes share rooms through Redis
    urls = {_env(services[w])["LIVEKIT_URL"] for w in ("worker-1", "worker-2")}
    assert urls == {"ws://livekit-1:7880", "ws://livekit-2:7890"}
    for node in NODES:
        assert _env(services[node])["REDIS_HOST"] == "redis:6379"


def test_every_secret_comes_from_the_environment(compose: dict[str, Any]) -> None:
    lines = (DEPLOY / "docker-compose.yml").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert "devkey" not in text and ": secret" not in text
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if key in SECRETS or "PASSWORD" in key or key == "LIVEKIT_KEYS":
                refs = REQUIRED_REFERENCE.findall(value)
                assert refs, f"{name}.{key} must be ${{VAR:?...}} (refuse to start without it)"
                assert all(ref in SECRETS for ref in refs)
            if key == "INTERPRETER_DB_URL":
                assert "${POSTGRES_PASSWORD:?" in value
    for name in OURS:
        env = _env(compose["services"][name])
        assert env["INTERPRETER_HOST"] == "0.0.0.0"  # so real keys are required (production.py)
        assert env["LIVEKIT_API_KEY"].startswith("${LIVEKIT_API_KEY:?")
        assert env["LIVEKIT_API_SECRET"].startswith("${LIVEKIT_API_SECRET:?")
        assert env["INTERPRETER_LOG_FORMAT"] == "json"
    for node in NODES:
        keys = _env(compose["services"][node])["LIVEKIT_KEYS"]
        assert keys.startswith("${LIVEKIT_API_KEY:?") and "${LIVEKIT_API_SECRET:?" in keys


def test_healthchecks_probe_what_the_services_serve(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in OURS:
        check = " ".join(services[name]["healthcheck"]["test"])
        assert "/healthz" in check, name
    assert "127.0.0.1:8083/healthz" in " ".join(services["worker-1"]["healthcheck"]["test"])
    assert "127.0.0.1:8080/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    for name, service in services.items():
        assert "healthcheck" in service, name
    for node in NODES:
        port = yaml.safe_load((DEPLOY / f"{node}.yaml").read_text())["port"]
        assert f"127.0.0.1:{port}/" in " ".join(services[node]["healthcheck"]["test"])


def test_livekit_node_configs_match_the_published_ports(compose: dict[str, Any]) -> None:
    seen: set[int] = set()
    for node in NODES:
        config = yaml.safe_load((DEPLOY / f"{node}.yaml").read_text())
        assert "keys" not in config and "redis" not in config  # from the environment
        assert config["agents"]["target_load"] == 1.0
        ports = {config["port"], config["rtc"]["tcp_port"], config["rtc"]["udp_port"]}
        assert not ports & seen
        seen |= ports
        published = compose["services"][node]["ports"]
        assert f"{config['port']}:{config['port']}" in published
        assert f"{config['rtc']['udp_port']}:{config['rtc']['udp_port']}/udp" in published
        mount = compose["services"][node]["volumes"][0]
        assert mount.startswith(f"./{node}.yaml:")


def test_compose_names_only_settings_that_exist(compose: dict[str, Any]) -> None:
    known = {_setting_name(field) for field in Settings.model_fields}
    for name in OURS:
        for key in _env(compose["services"][name]):
            if key.startswith(("INTERPRETER_", "LIVEKIT_")):
                assert key in known, f"{name}: {key} is not a setting"


def test_the_image_installs_through_the_project_setup() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "scripts/setup.sh image" in dockerfile
    assert "USER interpreter" in dockerfile
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert '"$profile" = "image"' in setup
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored
