"""Installing and configuring the LiveKit server, without running it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from interpreter.config import load_settings
from interpreter.errors import ServerInstallError
from interpreter.livekit_server import (
    LiveKitServer,
    ServerPorts,
    ensure_server_binary,
    server_binary_path,
)


def test_binary_is_cached_by_version(tmp_path: Path) -> None:
    s = load_settings(cache_dir=tmp_path)
    assert server_binary_path(s) == tmp_path / "livekit-server" / "v1.13.5" / "livekit-server"


def test_cached_binary_is_reused_without_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = load_settings(cache_dir=tmp_path)
    path = server_binary_path(s)
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ensure_server_binary(s) == path


def test_missing_go_explains_both_ways_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServerInstallError) as info:
        ensure_server_binary(load_settings(cache_dir=tmp_path))
    message = info.value.message
    assert "Go is not installed" in message
    assert "INTERPRETER_SERVER_BIN" in message and "v1.13.5" in message


def test_explicit_binary_must_be_executable(tmp_path: Path) -> None:
    bogus = tmp_path / "livekit-server"
    bogus.write_text("not a program")
    os.chmod(bogus, 0o644)
    with pytest.raises(ServerInstallError, match="not an executable file"):
        ensure_server_binary(load_settings(server_bin=bogus))


def test_config_keeps_media_on_loopback() -> None:
    server = LiveKitServer(
        binary=Path("/nonexistent"),
        ports=ServerPorts(http=17880, tcp=17881, udp=17882),
        api_key="devkey",
        api_secret="secret",
        dev_keys=True,
    )
    yaml = server.config_yaml()
    assert "port: 17880" in yaml and "tcp_port: 17881" in yaml and "udp_port: 17882" in yaml
    assert "node_ip: 127.0.0.1" in yaml and "includes: [lo]" in yaml
    assert "use_external_ip: false" in yaml
    assert server.ws_url == "ws://127.0.0.1:17880"
