"""Starting the LiveKit server: the happy path is every other integration test; here the
failures a user meets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from interpreter.errors import ServerStartError
from interpreter.livekit_server import LiveKitServer, ServerPorts
from interpreter.testing.livekit import REPO, LiveKitFixture, free_server_ports


def test_start_fails_clearly_when_the_port_is_taken(livekit_server: LiveKitFixture) -> None:
    taken = livekit_server.server.ports.http  # the session's server holds it
    server = LiveKitServer(
        binary=livekit_server.server.binary,
        ports=ServerPorts(http=taken, tcp=free_server_ports().tcp, udp=free_server_ports().udp),
        api_key="devkey",
        api_secret="secret",
        dev_keys=True,
    )
    with pytest.raises(ServerStartError, match=rf"HTTP/WebSocket port {taken} already in use"):
        server.start()
    assert server.pid is None


def test_cli_reports_a_taken_port_and_exits_nonzero(livekit_server: LiveKitFixture) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        udp = busy.getsockname()[1]
        ports = free_server_ports()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "interpreter",
                "server",
                f"--port={ports.http}",
                f"--tcp-port={ports.tcp}",
                f"--udp-port={udp}",
            ],
            cwd=REPO,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"RTC UDP port {udp} already in use" in result.stderr
    assert "Traceback" not in result.stderr
