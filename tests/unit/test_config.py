"""Settings: defaults a user gets, and the errors they see for bad values."""

from __future__ import annotations

import pytest

from interpreter.config import DEV_API_KEY, Settings, load_settings
from interpreter.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(key, raising=False)
    import os

    for key in list(os.environ):
        if key.startswith("INTERPRETER_"):
            monkeypatch.delenv(key)


def test_defaults_are_loopback_with_development_keys() -> None:
    s = load_settings()
    assert s.host == "127.0.0.1"
    assert (s.livekit_port, s.livekit_tcp_port, s.livekit_udp_port) == (7880, 7881, 7882)
    assert (s.web_port, s.worker_port) == (8080, 8081)
    assert s.dev_keys and s.api_key == DEV_API_KEY
    assert s.ws_url == "ws://127.0.0.1:7880"
    assert s.http_url == "http://127.0.0.1:7880"


def test_environment_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERPRETER_LIVEKIT_PORT", "9000")
    monkeypatch.setenv("LIVEKIT_URL", "wss://lk.example.org")
    s = load_settings(worker_port=9100, web_port=None)
    assert s.livekit_port == 9000
    assert s.worker_port == 9100 and s.web_port == 8080
    assert s.ws_url == "wss://lk.example.org"
    assert s.http_url == "https://lk.example.org"


def test_keys_come_as_a_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", "prod")
    with pytest.raises(ConfigError, match="LIVEKIT_API_SECRET must be set too"):
        load_settings()


def test_short_secret_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", "prod")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "short")
    with pytest.raises(ConfigError, match="LIVEKIT_API_SECRET must be at least 32 characters"):
        load_settings()


def test_real_keys_replace_development_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", "prod")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "s" * 40)
    s = load_settings()
    assert not s.dev_keys
    assert (s.api_key, s.api_secret) == ("prod", "s" * 40)
    assert "s" * 40 not in repr(s)


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("INTERPRETER_LIVEKIT_PORT", "70000", "INTERPRETER_LIVEKIT_PORT"),
        ("INTERPRETER_WEB_PORT", "eighty", "INTERPRETER_WEB_PORT"),
        ("INTERPRETER_LOG_LEVEL", "LOUD", "INTERPRETER_LOG_LEVEL"),
        ("INTERPRETER_SERVER_VERSION", "latest", "INTERPRETER_SERVER_VERSION"),
        ("INTERPRETER_LIVEKIT_TCP_PORT", "7880", "ports must differ"),
    ],
)
def test_invalid_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=needle):
        load_settings()


def test_settings_are_immutable() -> None:
    s = Settings()
    with pytest.raises(ValueError):
        s.host = "0.0.0.0"


def test_the_development_pair_is_accepted_when_given_explicitly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # livekit-agents hands its job processes the worker's keys through the environment
    monkeypatch.setenv("LIVEKIT_API_KEY", "devkey")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "secret")
    assert load_settings().dev_keys
