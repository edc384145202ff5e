"""Two LiveKit nodes sharing a Redis, on loopback, for integration tests, and the faults to
inject into them (Redis restarted empty, a node killed and started again)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from livekit import api

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


def node_id(node: LiveKitServer) -> str:
    """The node id a running ``node`` logged at start-up (``ND_...``): what Redis, the room
    placement and ``CreateRoomRequest.node_id`` know it by."""
    if node.log_file is None:
        raise ValueError(f"{node.ws_url} has no log file to read its node id from")
    found = None
    for line in node.log_file.read_text(errors="replace").splitlines():
        if "starting LiveKit server" in line and f'"portHttp": {node.ports.http},' in line:
            match = re.search(r'"nodeID": "(ND_\w+)"', line)
            found = match.group(1) if match else found
    if found is None:
        raise ValueError(f"no node id in {node.log_file} for {node.ws_url}")
    return found


def redis_command(redis: RedisServer, *args: str, timeout: float = 2.0) -> str | list[str] | None:
    """One Redis command, answered as a string, a list of strings or ``None`` (nil); enough
    RESP for looking at what LiveKit keeps there (``HGET room_node_map ROOM``)."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection((redis.host, redis.port), timeout=timeout) as s:
        s.sendall(request.encode())
        reader = s.makefile("rb")

        def read() -> str | list[str] | None:
            line = reader.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:].decode(errors="replace")
            if kind in (b"+", b":"):
                return rest
            if kind == b"-":
                raise RuntimeError(f"redis: {rest}")
            if kind == b"$":
                if int(rest) < 0:
                    return None
                data = reader.read(int(rest) + 2)[:-2]
                return data.decode(errors="replace")
            if kind == b"*":
                items = [read() for _ in range(max(int(rest), 0))]
                return [i for i in items if isinstance(i, str)]
            raise RuntimeError(f"redis: unexpected reply {line!r}")

        return read()


def room_host(fixture: ClusterFixture, room: str) -> int | None:
    """Index in ``fixture.nodes`` of the node Redis says hosts ``room`` (``None``: unknown)."""
    hosted = redis_command(fixture.redis, "HGET", "room_node_map", room)
    for k, node in enumerate(fixture.cluster.nodes):
        if hosted == node_id(node):
            return k
    return None


def restart_redis(redis: RedisServer) -> None:
    """Stop Redis and start it again on its port, empty (it keeps nothing on disk)."""
    redis.stop()
    redis.start()


def kill_node(node: LiveKitServer) -> None:
    """SIGKILL ``node`` (no drain, no goodbye to its clients or to Redis), then reap it."""
    if node.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.pid, signal.SIGKILL)
    node.stop()


async def place_room(fixture: ClusterFixture, room: str, host: int, *, via: int = 0) -> None:
    """Create ``room`` on node ``host`` (an index in ``fixture.nodes``), asking node ``via``.

    LiveKit puts a room a first participant joins on a random node of those alive
    (``node_selector`` ``any``/``random``); ``CreateRoom`` with a node id pins it instead."""
    lk_node = fixture.nodes[via]
    wanted = node_id(fixture.cluster.nodes[host])
    async with api.LiveKitAPI(lk_node.server.http_url, lk_node.api_key, lk_node.api_secret) as lk:
        await lk.room.create_room(api.CreateRoomRequest(name=room, node_id=wanted))


def restart_node(node: LiveKitServer) -> None:
    """Start a stopped (or killed) ``node`` again on its ports; it joins Redis with a new node
    id."""
    node.stop()
    node.start()
