"""Several LiveKit nodes sharing one Redis, on one machine: the multi-node topology to try and
to test.

Every node is a :class:`~interpreter.livekit_server.LiveKitServer` given the same Redis. A room
lives on one node (LiveKit picks it); a client may connect its signalling through any node, which
relays it to the room's node over Redis, and its media then flows to the room's node directly
(every node advertises 127.0.0.1 with ports of its own). Agent workers register with any node and
LiveKit dispatches their jobs across nodes.

Node ``k`` (from 0) of :meth:`LiveKitCluster.from_settings` uses the configured LiveKit ports plus
``10 * k``: 7880/7881/7882, then 7890/7891/7892, as in ``deploy/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from interpreter.config import Settings
from interpreter.livekit_server import LiveKitServer, ServerPorts, server_binary_path
from interpreter.redis_server import RedisServer

__all__ = ["NODE_PORT_STEP", "LiveKitCluster", "node_ports"]

logger = logging.getLogger("interpreter.cluster")

NODE_PORT_STEP = 10
"""How far apart the ports of two nodes are (and of two workers of ``up --workers``)."""


def node_ports(first: ServerPorts, index: int) -> ServerPorts:
    """The ports of node ``index`` (from 0), the first node's plus ``10 * index``."""
    step = NODE_PORT_STEP * index
    return ServerPorts(http=first.http + step, tcp=first.tcp + step, udp=first.udp + step)


class LiveKitCluster:
    """``redis`` and the LiveKit ``nodes`` that share it, started and stopped together.

    Each node must have been given ``redis.address``. ``start()`` starts Redis, then the nodes
    in order, and stops what it started if one fails; ``stop()`` stops the nodes, then Redis.
    """

    def __init__(self, *, redis: RedisServer, nodes: Sequence[LiveKitServer]) -> None:
        if not nodes:
            raise ValueError("a cluster has at least one node")
        wrong = [n.ws_url for n in nodes if n.redis != redis.address]
        if wrong:
            raise ValueError(f"nodes not using redis at {redis.address}: {', '.join(wrong)}")
        self.redis = redis
        self.nodes = tuple(nodes)

    @classmethod
    def from_settings(cls, settings: Settings, *, nodes: int, log_dir: Path) -> LiveKitCluster:
        """``nodes`` nodes on the configured host and ports (node ``k`` at ports + 10 k), and
        Redis on ``INTERPRETER_REDIS_PORT``; logs in ``log_dir``."""
        redis = RedisServer(
            host=settings.host, port=settings.redis_port, log_file=log_dir / "redis.log"
        )
        first = ServerPorts(
            settings.livekit_port, settings.livekit_tcp_port, settings.livekit_udp_port
        )
        servers = [
            LiveKitServer(
                binary=server_binary_path(settings),
                host=settings.host,
                ports=node_ports(first, k),
                api_key=settings.api_key,
                api_secret=settings.api_secret,
                dev_keys=settings.dev_keys,
                log_file=log_dir / f"livekit-server-{k + 1}.log",
                json_logs=settings.log_format == "json",
                redis=redis.address,
            )
            for k in range(nodes)
        ]
        return cls(redis=redis, nodes=servers)

    def start(self) -> None:
        self.redis.start()
        try:
            for node in self.nodes:
                node.start()
        except BaseException:
            self.stop()
            raise
        logger.info(
            "livekit cluster ready",
            extra={"nodes": [n.ws_url for n in self.nodes], "redis": self.redis.address},
        )

    def dead(self) -> str | None:
        """What has exited (a node's URL, or ``redis``), if anything."""
        for node in self.nodes:
            if node.poll() is not None:
                return f"livekit-server {node.ws_url} (exit {node.poll()})"
        if self.redis.poll() is not None:
            return f"redis-server {self.redis.address} (exit {self.redis.poll()})"
        return None

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        self.redis.stop()

    def __enter__(self) -> LiveKitCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
