"""``python -m interpreter glossary set/get/delete``: a room's glossary from the shell, straight
into the database the web app and the translators read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from captions.store import TranscriptStore, database_url
from glossary.store import GlossaryStore, StoredGlossary
from interpreter import cli
from interpreter.cli import main

CSV = b"en,es,keep\ndeliverable,entregable,\ndata center,centro de datos,\nNimbus,,yes\n"
BAD_CSV = b"en,es\nbudget,presupuesto\nbudget,cuenta\nfoo,\n"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() configures the process's logging; tests keep pytest's own
    monkeypatch.setattr(cli, "configure_logging", lambda *_, **__: None)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return database_url(db_url=None, data_dir=tmp_path / "db")


@pytest.fixture
def glossary_file(tmp_path: Path) -> Path:
    path = tmp_path / "terms.csv"
    path.write_bytes(CSV)
    return path


def stored(url: str, room: str = "standup") -> StoredGlossary | None:
    async def read() -> StoredGlossary | None:
        async with await TranscriptStore.open(url) as transcripts:
            store = GlossaryStore(transcripts.engine)
            await store.create_schema()
            return await store.get(room)

    return asyncio.run(read())


def test_set_get_and_delete_a_rooms_glossary(
    db: str, glossary_file: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["glossary", "set", "--room", "standup", str(glossary_file), "--db-url", db]) == 0
    assert capsysbinary.readouterr().out == b"glossary set for room standup: 3 terms (revision 1)\n"
    found = stored(db)
    assert found is not None and (found.data, found.format) == (CSV, "csv")

    assert main(["glossary", "get", "--room", "standup", "--db-url", db]) == 0
    assert capsysbinary.readouterr().out == CSV

    target = tmp_path / "out" / "standup.csv"
    assert main(["glossary", "get", "--room", "standup", "-o", str(target), "--db-url", db]) == 0
    assert target.read_bytes() == CSV
    assert b"3 terms (csv, revision 1)" in capsysbinary.readouterr().err

    assert main(["glossary", "set", "--room", "standup", str(glossary_file), "--db-url", db]) == 0
    assert b"(revision 2)" in capsysbinary.readouterr().out

    assert main(["glossary", "delete", "--room", "standup", "--db-url", db]) == 0
    assert capsysbinary.readouterr().out == b"glossary deleted for room standup\n"
    assert stored(db) is None

    assert main(["glossary", "get", "--room", "standup", "--db-url", db]) == 1
    assert b"room standup has no glossary" in capsysbinary.readouterr().err
    assert main(["glossary", "delete", "--room", "standup", "--db-url", db]) == 1


def test_a_refused_file_lists_its_problems_and_stores_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD_CSV)
    assert main(["glossary", "set", "--room", "standup", str(bad), "--db-url", db]) == 2
    err = capsys.readouterr().err
    assert "refused, 2 problem(s)" in err
    assert "line 3: conflicting entries" in err and "line 4: empty term" in err
    assert stored(db) is None


def test_missing_files_unknown_formats_and_bad_room_names_are_clear_errors(
    db: str, tmp_path: Path, glossary_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    assert main(["glossary", "set", "--room", "standup", str(missing), "--db-url", db]) == 2
    assert f"error: cannot read {missing}: No such file or directory" in capsys.readouterr().err

    odd = tmp_path / "terms.txt"
    odd.write_bytes(CSV)
    assert main(["glossary", "set", "--room", "standup", str(odd), "--db-url", db]) == 2
    assert "cannot tell the glossary format" in capsys.readouterr().err
    args = ["glossary", "set", "--room", "standup", str(odd), "--format", "csv", "--db-url", db]
    assert main(args) == 0

    assert main(["glossary", "set", "--room", "bad room", str(glossary_file), "--db-url", db]) == 2
    assert "room names are" in capsys.readouterr().err


def test_the_database_comes_from_the_settings_like_the_transcripts(
    tmp_path: Path, glossary_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERPRETER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("INTERPRETER_DB_URL", raising=False)
    assert main(["glossary", "set", "--room", "standup", str(glossary_file)]) == 0
    found = stored(database_url(db_url=None, data_dir=tmp_path / "data"))
    assert found is not None and found.terms == 3


def test_check_needs_no_settings_but_set_does(
    glossary_file: Path,
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", "prod")  # a half-configured deployment
    monkeypatch.delenv("LIVEKIT_API_SECRET", raising=False)
    assert main(["glossary", "check", str(glossary_file)]) == 0
    assert "ok, 2 concepts" in capsys.readouterr().out
    assert main(["glossary", "set", "--room", "standup", str(glossary_file), "--db-url", db]) == 2
    assert "LIVEKIT_API_SECRET" in capsys.readouterr().err


def test_a_database_that_cannot_be_used_is_an_error_not_a_traceback(
    glossary_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    for args in (
        ["set", "--room", "standup", str(glossary_file), "--db-url", unreachable],
        ["get", "--room", "standup", "--db-url", unreachable],
        ["delete", "--room", "standup", "--db-url", unreachable],
        ["get", "--room", "standup", "--db-url", "mysql://h/db"],
    ):
        assert main(["glossary", *args]) == 1, args
        assert capsys.readouterr().err.startswith("error: ")
