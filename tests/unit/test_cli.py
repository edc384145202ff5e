"""The command line a user types."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from interpreter.cli import build_parser, main
from web.tokens import TokenChecker


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("up", "server", "worker", "invite"):
        assert f"    {command} " in out


@pytest.mark.parametrize("command", ["up", "server", "worker", "invite"])
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


INVITE_KEY, INVITE_SECRET = "APIinvite", "k" * 40


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", INVITE_KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", INVITE_SECRET)
    monkeypatch.setenv("INTERPRETER_WEB_PORT", "8099")
    monkeypatch.delenv("INTERPRETER_HOST", raising=False)
    monkeypatch.delenv("LIVEKIT_URL", raising=False)


@pytest.mark.usefixtures("keys")
def test_invite_prints_the_console_link_then_the_identity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["invite", "--room", "standup", "--name", "Ana Lima", "--languages", "es, EN"]) == 0
    link, identity_line, *rest = capsys.readouterr().out.splitlines()
    assert rest == []
    url = urlsplit(link)
    assert (url.scheme, url.netloc, url.path, url.query) == (
        "http",
        "127.0.0.1:8099",
        "/console",
        "",
    )
    fragment = dict(parse_qsl(url.fragment))
    assert fragment["room"] == "standup"

    claims = TokenChecker(api_key=INVITE_KEY, api_secret=INVITE_SECRET).verify(fragment["token"])
    assert identity_line == f"identity: {claims.identity}"
    assert claims.identity.startswith("ana-lima-") and claims.name == "Ana Lima"
    assert claims.attributes == {
        "role": "interpreter",
        "interpreter.languages": "es,en",
        "language": "es",
    }
    assert claims.video is not None and claims.video.room == "standup"
    assert not claims.video.can_update_own_metadata and not claims.video.can_publish_data


@pytest.mark.usefixtures("keys")
def test_invite_links_to_the_web_app_it_is_told(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["invite", "--room", "r1", "--name", "Iva", "--languages", "en,es"]
    assert main([*argv, "--web-url", "https://booth.example.org/"]) == 0
    assert capsys.readouterr().out.startswith("https://booth.example.org/console#room=r1&token=")


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--room", "r1", "--name", "Iva", "--languages", "en,xx-nope"], "unknown language"),
        (["--room", "r1", "--name", "Iva", "--languages", "en,en"], "must differ"),
        (["--room", "r1", "--name", "Iva", "--languages", "en"], "two language codes"),
        (["--room", "r 1", "--name", "Iva", "--languages", "en,es"], "room names are"),
        (["--room", "r1", "--name", "", "--languages", "en,es"], "display name"),
        (["--room", "r1", "--name", "Iva", "--languages", "en,es", "--web-url", "x"], "http"),
    ],
)
def test_a_bad_invite_is_one_line_and_exit_2(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", *args]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert line.startswith("error: ") and says in line
