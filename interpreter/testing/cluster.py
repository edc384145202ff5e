"""Two LiveKit nodes sharing a Redis, on loopback, for integration tests."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from interpreter.cluster import LiveKitCluster
from interpreter.config import DEV_API_KEY, DEV_API_SECRET
from interpreter.livekit_server import LiveKitServer, ServerPorts
from interpreter.redis_server import RedisServer
from interpreter.testing.livekit import LiveKitFixture, free_port, free_server_ports


@dataclass
class ClusterFixture:
    """The running cluster and a client fixture per node (``nodes[0]`` is node A)."""

    cluster: LiveKitCluster
    nodes: tuple[LiveKitFixture, ...]

    @property
    def redis(self) -> RedisServer:
        return self.cluster.redis


def _distinct_server_ports(count: int) -> list[tuple[int, int, int]]:
    taken: set[int] = set()
    out: list[tuple[int, int, int]] = []
    while len(out) < count:
        ports = free_server_ports()
        triple = (ports.http, ports.tcp, ports.udp)
        if taken.isdisjoint(triple):
            taken.update(triple)
            out.append(triple)
    return out


def loopback_cluster(binary: Path, log_dir: Path, *, nodes: int = 2) -> LiveKitCluster:
    """``nodes`` livekit-server nodes with the development keys on free loopback ports, and a
    Redis of their own; logs in ``log_dir`` (``redis.log``, ``livekit-node-a.log``, ...)."""
    triples = _distinct_server_ports(nodes)
    taken = {port for triple in triples for port in triple}
    redis_port = free_port(socket.SOCK_STREAM)
    while redis_port in taken:
        redis_port = free_port(socket.SOCK_STREAM)
    redis = RedisServer(port=redis_port, log_file=log_dir / "redis.log")
    servers = [
        LiveKitServer(
            binary=binary,
            ports=ServerPorts(http=http, tcp=tcp, udp=udp),
            api_key=DEV_API_KEY,
            api_secret=DEV_API_SECRET,
            dev_keys=True,
            log_file=log_dir / f"livekit-node-{chr(ord('a') + k)}.log",
            redis=redis.address,
        )
        for k, (http, tcp, udp) in enumerate(triples)
    ]
    return LiveKitCluster(redis=redis, nodes=servers)
