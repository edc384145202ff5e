"""The multi-node topology, configured without running it: Redis in memory on loopback, every
node pointed at it on ports of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from interpreter.cluster import LiveKitCluster, node_ports
from interpreter.config import load_settings
from interpreter.errors import ConfigError, ServerStartError
from interpreter.livekit_server import LiveKitServer, ServerPorts
from interpreter.redis_server import RedisServer
from interpreter.supervisor import run_up, worker_overrides


def test_up_nodes_share_one_redis_on_ports_ten_apart(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, cache_dir=tmp_path, redis_port=7879)
    cluster = LiveKitCluster.from_settings(settings, nodes=2, log_dir=tmp_path / "logs")
    assert cluster.redis.address == "127.0.0.1:7879"
    configs = [yaml.safe_load(node.config_yaml()) for node in cluster.nodes]
    assert [c["redis"] for c in configs] == [{"address": "127.0.0.1:7879"}] * 2
    assert [(c["port"], c["rtc"]["tcp_port"], c["rtc"]["udp_port"]) for c in configs] == [
        (7880, 7881, 7882),
        (7890, 7891, 7892),
    ]
    for c in configs:  # media stays on loopback: each node advertises 127.0.0.1 only
        assert c["rtc"]["node_ip"] == "127.0.0.1"
        assert c["rtc"]["interfaces"] == {"includes": ["lo"]}
    assert [n.ws_url for n in cluster.nodes] == ["ws://127.0.0.1:7880", "ws://127.0.0.1:7890"]
    assert len({n.log_file for n in cluster.nodes}) == 2


def test_a_single_server_has_no_redis() -> None:
    server = LiveKitServer(
        binary=Path("/nonexistent"), api_key="k", api_secret="s" * 32, dev_keys=False
    )
    assert "redis" not in yaml.safe_load(server.config_yaml())


def test_a_node_on_another_redis_is_refused(tmp_path: Path) -> None:
    redis = RedisServer(port=7001)
    stray = LiveKitServer(
        binary=tmp_path / "server",
        ports=node_ports(ServerPorts(), 1),
        api_key="k",
        api_secret="s" * 32,
        dev_keys=False,
        redis="127.0.0.1:7002",
    )
    with pytest.raises(ValueError, match="7001"):
        LiveKitCluster(redis=redis, nodes=[stray])


def test_redis_keeps_nothing_on_disk_and_listens_on_loopback_only(tmp_path: Path) -> None:
    command = RedisServer(port=7001).command(tmp_path)
    flags = dict(zip(command[1::2], command[2::2], strict=True))
    assert flags["--bind"] == "127.0.0.1"
    assert flags["--port"] == "7001"
    assert flags["--save"] == "" and flags["--appendonly"] == "no"  # no persistence
    assert flags["--dir"] == str(tmp_path)
    assert flags["--protected-mode"] == "yes"


def test_a_missing_redis_server_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("interpreter.redis_server.shutil.which", lambda name: None)
    monkeypatch.setattr("interpreter.redis_server.os.access", lambda path, mode: False)
    with pytest.raises(ServerStartError, match="apt-get install redis-server"):
        RedisServer(port=7001).start()


def test_up_workers_get_their_own_ports_and_a_node_each(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    second = worker_overrides(settings, 1, "ws://127.0.0.1:7890")
    assert second == {
        "LIVEKIT_URL": "ws://127.0.0.1:7890",
        "INTERPRETER_WORKER_PORT": "8091",
        "INTERPRETER_METRICS_PORT": "8092",
        "INTERPRETER_WORKER_PROBE_PORT": "8093",
    }
    assert worker_overrides(settings, 0, "ws://x")["INTERPRETER_WORKER_PORT"] == "8081"


@pytest.mark.parametrize(("nodes", "workers"), [(0, 1), (5, 1), (2, 0), (2, 9)])
def test_up_refuses_a_topology_out_of_range_before_starting_anything(
    tmp_path: Path, nodes: int, workers: int
) -> None:
    settings = load_settings(data_dir=tmp_path, cache_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"--nodes|--workers"):
        run_up(settings, nodes=nodes, workers=workers)
    assert not (tmp_path / "logs").exists()
