"""The command line a user types."""

from __future__ import annotations

import pytest

from interpreter.cli import build_parser, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("up", "server", "worker"):
        assert f"    {command} " in out


@pytest.mark.parametrize("command", ["up", "server", "worker"])
def test_each_command_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    assert "--log-level" in capsys.readouterr().out


def test_bad_setting_is_a_clear_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", "prod")
    monkeypatch.delenv("LIVEKIT_API_SECRET", raising=False)
    assert main(["server", "--install-only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid configuration")
    assert "LIVEKIT_API_SECRET" in err


def test_bad_port_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["server", "--install-only", "--port", "0"]) == 2
    assert "INTERPRETER_LIVEKIT_PORT" in capsys.readouterr().err
