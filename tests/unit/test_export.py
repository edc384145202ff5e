"""Transcript exports, read back the way a player or another program would read them."""

from __future__ import annotations

import argparse
import asyncio
import html
import io
import itertools
import json
import random
from pathlib import Path

import pytest
import webvtt

from captions import Caption
from captions.export import LINE_WIDTH, cues, render, to_json, to_srt, to_webvtt
from captions.store import (
    ORIGINAL,
    Meeting,
    Transcript,
    TranscriptLine,
    TranscriptStore,
    database_url,
)
from interpreter.errors import ConfigError
from interpreter.transcript_cli import add_transcript_parser, run_transcript
from languages import Language
from tests.unit import test_store as stored

T0 = 1_800_000_000.0


def line(
    n: int,
    text: str,
    start: float,
    end: float,
    *,
    speaker: str = "ana",
    name: str = "Ana Lima",
    lang: str = "es",
    source_lang: str = "en",
    interpreter: bool = False,
) -> TranscriptLine:
    return TranscriptLine(
        segment_id=f"{speaker}-{n}",
        speaker_identity=speaker,
        speaker_name=name,
        language=Language(lang),
        source_language=Language(source_lang),
        text=text,
        start=start,
        end=end,
        translated=lang != source_lang,
        interpreter=interpreter,
        engine="apertium" if lang != source_lang else "",
    )


def transcript(*lines: TranscriptLine, language: str = "es") -> Transcript:
    return Transcript(
        room_name="standup",
        room_sid="RM_1",
        language=ORIGINAL if language == ORIGINAL else Language(language),
        meeting_start=T0,
        lines=lines,
    )


def read_vtt(text: str) -> list[webvtt.Caption]:
    return list(webvtt.from_string(text, strict=True).captions)


def plain(caption: webvtt.Caption) -> str:
    """What a viewer reads: tags removed, entities decoded, lines joined."""
    return " ".join(html.unescape(caption.text).split("\n"))


def seconds(caption: webvtt.Caption) -> tuple[float, float]:
    return (
        caption.start_time.in_milliseconds() / 1000,
        caption.end_time.in_milliseconds() / 1000,
    )


def test_webvtt_cues_carry_speaker_voice_and_meeting_relative_times() -> None:
    doc = to_webvtt(
        transcript(
            line(1, "Buenos días a todos.", 6.0, 8.25),
            line(1, "Gracias, Ana.", 8.5, 9.0, speaker="bo", name="Bo Chen", source_lang="de"),
            line(2, "Empecemos.", 3725.0, 3727.5),
        )
    )
    captions = read_vtt(doc)
    assert [(c.voice, plain(c)) for c in captions] == [
        ("Ana Lima", "Buenos días a todos."),
        ("Bo Chen", "Gracias, Ana."),
        ("Ana Lima", "Empecemos."),
    ]
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:06.000", "00:00:08.250"),
        ("00:00:08.500", "00:00:09.000"),
        ("01:02:05.000", "01:02:07.500"),
    ]
    assert [c.identifier for c in captions] == ["ana-1", "bo-1", "ana-2"]
    assert "Language: es" in doc.splitlines()[:3]


def test_markup_entities_and_cue_arrows_in_speech_survive_as_text() -> None:
    nasty = [
        "if a < b && c > d then --> done",
        "<b>bold</b> <v Mallory>fake voice</v> &amp; <c.red>x</c>",
        "first\n\nsecond\r\nthird\u2028fourth",
        "00:00:01.000 --> 00:00:02.000",
        "WEBVTT",
        "NOTE this is not a comment",
        "tab\there and a bell\x07 and \x1b[31mansi",
    ]
    lines = [line(i, t, i * 10.0, i * 10.0 + 2) for i, t in enumerate(nasty)]
    evil = line(99, "hi", 100.0, 101.0, speaker="eve", name="Eve> <b>Mal --> &lt;")
    captions = read_vtt(to_webvtt(transcript(*lines, evil)))

    assert [plain(c) for c in captions] == [
        "if a < b && c > d then --> done",
        "<b>bold</b> <v Mallory>fake voice</v> &amp; <c.red>x</c>",
        "first second third fourth",
        "00:00:01.000 --> 00:00:02.000",
        "WEBVTT",
        "NOTE this is not a comment",
        "tab here and a bell and [31mansi",
        "hi",
    ]
    assert [c.voice for c in captions[:-1]] == ["Ana Lima"] * len(nasty)
    assert html.unescape(captions[-1].voice or "") == "Eve> <b>Mal --> &lt;"


def test_random_hostile_text_never_breaks_the_file() -> None:
    rng = random.Random(7)
    alphabet = ["<", ">", "&", "-->", "--", "\n", "\r", " ", "a", "é", "語", ";", "#", "\t", "v"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    texts = [t for t in texts if t.split()]
    lines = [line(i, t, float(i), i + 0.9) for i, t in enumerate(texts)]
    doc = transcript(*lines)

    captions = read_vtt(to_webvtt(doc))
    by_segment: dict[str, list[str]] = {}
    for c in captions:
        by_segment.setdefault((c.identifier or "").split("#")[0], []).append(plain(c))
    assert [" ".join(parts) for parts in by_segment.values()] == [
        " ".join(t.split()) for t in texts
    ]

    srt = webvtt.from_buffer(io.StringIO(to_srt(doc)), format="srt").captions
    srt_text = " ".join(" ".join(c.raw_text.split("\n")) for c in srt)
    expected = " ".join(f"Ana Lima: {' '.join(t.split())}" for t in texts)
    while "-->" in expected:
        expected = expected.replace("-->", "->")
    assert srt_text == expected


def test_a_long_segment_is_one_cue_with_its_lines_wrapped() -> None:
    speech = (
        "This is a long explanation of the quarterly numbers which goes on for quite a "
        "while, because the speaker has a lot to say about revenue, costs and the outlook "
        "for the next two quarters in every region."
    )
    captions = read_vtt(to_webvtt(transcript(line(1, speech, 10.0, 22.0, lang="en"))))
    assert len(captions) == 1
    rows = html.unescape(captions[0].text).split("\n")
    assert len(rows) > 2 and all(len(r) <= LINE_WIDTH for r in rows)
    assert plain(captions[0]) == speech
    assert seconds(captions[0]) == (10.0, 22.0)


def test_long_segments_can_be_split_in_time_for_small_displays() -> None:
    speech = (
        "This is a long explanation of the quarterly numbers which goes on for quite a "
        "while, because the speaker has a lot to say about revenue, costs and the outlook "
        "for the next two quarters in every region."
    )
    pieces = cues(transcript(line(1, speech, 10.0, 22.0, lang="en")), max_lines=2)

    assert len(pieces) > 1
    for c in pieces:
        assert 1 <= len(c.lines) <= 2
        assert all(len(r) <= LINE_WIDTH for r in c.lines)
        assert c.speaker == "Ana Lima"  # every piece keeps the label
    assert " ".join(" ".join(c.lines) for c in pieces) == speech
    assert pieces[0].start_ms == 10_000 and pieces[-1].end_ms == 22_000
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(pieces))  # back to back


def test_text_without_spaces_is_cut_to_the_line_width() -> None:
    url = "https://example.org/" + "a" * 70
    chinese = (
        "我们下个季度的预算将在下周提交给董事会请大家在星期五之前把问题发给我谢谢大家今天来参加会议"
    )
    captions = read_vtt(
        to_webvtt(transcript(line(1, f"see {url} now", 0, 4), line(2, chinese, 5, 9)))
    )
    rows = [r for c in captions for r in html.unescape(c.text).split("\n")]
    assert all(len(r) <= LINE_WIDTH for r in rows)
    first = [c for c in captions if (c.identifier or "").startswith("ana-1")]
    pieces = "".join(html.unescape(c.text).replace("\n", "") for c in first)
    assert pieces.replace(" ", "") == f"see{url}now"
    second = [c for c in captions if (c.identifier or "").startswith("ana-2")]
    assert "".join(html.unescape(c.text).replace("\n", "") for c in second) == chinese


def test_one_speakers_cues_never_overlap_or_go_back_but_two_speakers_may_overlap() -> None:
    doc = transcript(
        line(1, "uno", 5.0, 9.0),
        line(2, "dos", 8.0, 10.0),  # STT said it began before the last one ended
        line(3, "tres", 9.5, 9.6),  # and this one too, very short
        line(1, "otro", 6.0, 8.0, speaker="bo", name="Bo"),
    )
    for fmt_captions in (
        read_vtt(to_webvtt(doc)),
        webvtt.from_buffer(io.StringIO(to_srt(doc)), format="srt").captions,
    ):
        ana = [seconds(c) for c in fmt_captions if "Bo" not in (c.voice or c.raw_text)]
        assert all(end > start for start, end in ana)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(ana))
        assert any(seconds(c) == (6.0, 8.0) for c in fmt_captions)  # Bo untouched

    segments = json.loads(to_json(doc))["segments"]
    ana_json = [(s["start"], s["end"]) for s in segments if s["speaker"] == "ana"]
    assert ana_json == [(5.0, 9.0), (9.0, 10.0), (10.0, 10.5)]


def test_srt_labels_the_speaker_and_keeps_text() -> None:
    doc = transcript(line(1, "Hola <equipo> & --> todos", 1.0, 2.0))
    out = to_srt(doc)
    [caption] = webvtt.from_buffer(io.StringIO(out), format="srt").captions
    assert caption.raw_text == "Ana Lima: Hola <equipo> & -> todos"
    assert (caption.start, caption.end) == ("00:00:01.000", "00:00:02.000")
    assert out.splitlines()[1] == "00:00:01,000 --> 00:00:02,000"


def test_json_keeps_everything_a_program_needs() -> None:
    doc = transcript(line(1, 'Dijo "sí" <ok>', 1.5, 2.25))
    data = json.loads(render(doc, "json"))
    assert data["room"] == "standup" and data["meeting"] == "RM_1"
    assert data["language"] == "es"
    assert data["meeting_start"] == "2027-01-15T08:00:00.000Z"
    assert data["segments"] == [
        {
            "id": "ana-1",
            "start": 1.5,
            "end": 2.25,
            "speaker": "ana",
            "name": "Ana Lima",
            "language": "es",
            "source_language": "en",
            "translated": True,
            "interpreter": False,
            "engine": "apertium",
            "text": 'Dijo "sí" <ok>',
            "glossary": [],
        }
    ]


def test_the_original_transcript_mixes_languages_and_has_no_language_header() -> None:
    doc = transcript(
        line(1, "Hello", 1.0, 2.0, lang="en", source_lang="en"),
        line(1, "Hallo", 3.0, 4.0, speaker="bo", name="Bo", lang="de", source_lang="de"),
        language=ORIGINAL,
    )
    out = to_webvtt(doc)
    assert not any(row.startswith("Language:") for row in out.splitlines())
    assert [plain(c) for c in read_vtt(out)] == ["Hello", "Hallo"]


def test_a_speaker_without_a_name_is_labelled_by_identity() -> None:
    doc = transcript(line(1, "hi", 0.0, 1.0, speaker="user-7", name="  "))
    assert [c.voice for c in read_vtt(to_webvtt(doc))] == ["user-7"]


def test_a_human_interpreters_lines_are_labelled_as_interpretation() -> None:
    doc = transcript(
        line(1, "Buenos días.", 1.0, 2.0),
        line(
            1,
            "Bienvenidos.",
            3.0,
            4.0,
            speaker="ivy",
            name="Ivy Lo",
            source_lang="es",
            interpreter=True,
        ),
    )
    assert [c.voice for c in read_vtt(to_webvtt(doc))] == ["Ana Lima", "Ivy Lo (interpreter)"]
    srt = webvtt.from_buffer(io.StringIO(to_srt(doc)), format="srt").captions
    assert [c.raw_text for c in srt] == [
        "Ana Lima: Buenos días.",
        "Ivy Lo (interpreter): Bienvenidos.",
    ]
    segments = json.loads(to_json(doc))["segments"]
    assert [(s["name"], s["interpreter"]) for s in segments] == [
        ("Ana Lima", False),
        ("Ivy Lo", True),  # the name stays plain; the field says it
    ]


def test_interpretation_stored_by_an_interpreters_agent_is_labelled_in_its_language(
    tmp_path: Path,
) -> None:
    url = database_url(db_url=None, data_dir=tmp_path)
    meeting = Meeting(room_sid="RM_booth", room_name="standup", started_at=stored.T0)

    async def fill_and_read() -> tuple[Transcript, Transcript]:
        async with await TranscriptStore.open(url) as store:
            await store.save_segment(meeting, stored.source(1, lang="es", text="Hola."))
            interpretation = stored.source(1, speaker="ivy", name="Ivy Lo", text="Hello.")
            await store.save_segment(meeting, interpretation, interpreter=True)
            return (
                await store.transcript("standup", Language("en")),
                await store.transcript("standup", ORIGINAL),
            )

    english, original = asyncio.run(fill_and_read())
    assert [(c.voice, plain(c)) for c in read_vtt(to_webvtt(english))] == [
        ("Ivy Lo (interpreter)", "Hello.")
    ]
    assert [c.voice for c in read_vtt(to_webvtt(original))] == ["Ana Lima"]


def test_an_empty_transcript_is_still_a_valid_file() -> None:
    doc = transcript()
    assert read_vtt(to_webvtt(doc)) == []
    assert json.loads(to_json(doc))["segments"] == []
    assert to_srt(doc) == ""


def _cli(args: list[str], db_url: str, retention_days: float | None = None) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_transcript_parser(parser.add_subparsers(dest="command"))
    out = io.StringIO()
    status = run_transcript(
        parser.parse_args(["transcript", *args]),
        db_url=db_url,
        retention_days=retention_days,
        out=out,
    )
    return status, out.getvalue()


def test_the_transcript_command_exports_lists_and_purges(tmp_path: Path) -> None:
    url = database_url(db_url=None, data_dir=tmp_path)
    past = 1_700_000_000.0  # November 2023: older than a 0-day retention, newer than 100 years
    meeting = Meeting(room_sid="RM_cli", room_name="standup", started_at=past)
    said = Caption(
        segment_id="ana-1",
        source_segment_id="ana-1",
        speaker_identity="ana",
        speaker_name="Ana Lima",
        track_sid="TR",
        language=Language("en"),
        source_language=Language("en"),
        text="Hello & welcome",
        final=True,
        start=0.0,
        end=2.0,
        wall_time=past + 5.0,
    )

    async def fill() -> None:
        async with await TranscriptStore.open(url) as store:
            await store.save_segment(meeting, said)

    asyncio.run(fill())

    target = tmp_path / "out" / "standup.vtt"
    status, _ = _cli(["export", "--room", "standup", "--lang", "en", "-o", str(target)], url)
    assert status == 0
    [cue] = read_vtt(target.read_text())
    assert (cue.voice, plain(cue), cue.start) == ("Ana Lima", "Hello & welcome", "00:00:03.000")

    status, out = _cli(["export", "--room", "standup", "--format", "json"], url)
    assert status == 0 and json.loads(out)["segments"][0]["text"] == "Hello & welcome"
    assert _cli(["export", "--room", "standup", "--lang", "fr"], url)[0] == 1
    assert _cli(["export", "--room", "nowhere"], url)[0] == 1

    status, out = _cli(["list", "--json"], url)
    assert json.loads(out)["meetings"][0]["meeting"] == "RM_cli"
    status, out = _cli(["list"], url)
    assert "standup" in out and "RM_cli" in out

    with pytest.raises(ConfigError):  # no --older-than and no retention setting
        _cli(["purge"], url)
    assert _cli(["purge", "--older-than", "36500"], url)[1].startswith("purged 0 ")
    assert _cli(["purge"], url, retention_days=0)[1].startswith("purged 1 ")
    assert json.loads(_cli(["list", "--json"], url)[1])["meetings"] == []
