"""Transcript exports: WebVTT (webvtt-py), SRT and JSON.

Every format shows the same timing: seconds from the meeting start, and for each speaker,
lines that never overlap and never go back in time (a speaker's lines are shifted just enough
to follow the previous one). WebVTT and SRT wrap text for display, at most two lines of about
42 characters a cue; a longer segment becomes several cues that share its time in proportion
to their length. WebVTT labels the speaker with a voice span (``<v Ana Lima>``); SRT, which has
none, starts each segment with ``Ana Lima:``. A human interpreter's line is labelled as such
(``<v Ivy Lo (interpreter)>``, ``Ivy Lo (interpreter):``): a reader must tell interpretation
from the speaker's own words; JSON says it in its ``interpreter`` field.

Speech is text from strangers: ``<``, ``&`` and ``-->`` are escaped in WebVTT, line breaks and
control characters are normalised everywhere, so no utterance can end a cue or add one.
"""

from __future__ import annotations

import datetime
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args
from urllib.parse import quote

import webvtt

from captions.store import ORIGINAL, Transcript, TranscriptLine

__all__ = [
    "FORMATS",
    "INTERPRETER_LABEL",
    "LINE_WIDTH",
    "MEDIA_TYPES",
    "Cue",
    "ExportFormat",
    "TimedLine",
    "cues",
    "render",
    "timed_lines",
    "to_json",
    "to_srt",
    "to_webvtt",
]

ExportFormat = Literal["vtt", "srt", "json"]
FORMATS: Final[tuple[ExportFormat, ...]] = get_args(ExportFormat)

MEDIA_TYPES: Final[dict[ExportFormat, str]] = {
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "json": "application/json",
}

LINE_WIDTH = 42
MIN_CUE_MS = 500
UNKNOWN_SPEAKER = "Speaker"
INTERPRETER_LABEL = "(interpreter)"
"""Follows the name of a human interpreter in WebVTT voice spans and SRT prefixes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedLine:
    """A transcript line with display times (integer milliseconds from the meeting start)."""

    line: TranscriptLine
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Cue:
    """One caption on screen: plain (unescaped) text lines of one speaker."""

    identifier: str
    start_ms: int
    end_ms: int
    speaker: str
    lines: tuple[str, ...]


def _clean(text: str) -> str:
    """One line of visible text: whitespace runs become one space, control characters go."""
    if text.isprintable():
        return " ".join(text.split())
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) != "Cc"
    )
    return " ".join(kept.split())


def _speaker(line: TranscriptLine) -> str:
    """The label of ``line``'s speaker in WebVTT and SRT."""
    name = _clean(line.speaker_name) or _clean(line.speaker_identity) or UNKNOWN_SPEAKER
    return f"{name} {INTERPRETER_LABEL}" if line.interpreter else name


def _wrap(text: str, width: int) -> list[str]:
    """Greedy wrap of single-spaced ``text``; a word longer than ``width`` is cut."""
    rows: list[str] = []
    row = ""
    for word in text.split(" "):
        while len(word) > width:  # a URL, or a script written without spaces
            if row:
                rows.append(row)
                row = ""
            rows.append(word[:width])
            word = word[width:]
        if not word:
            continue
        if not row:
            row = word
        elif len(row) + 1 + len(word) <= width:
            row += " " + word
        else:
            rows.append(row)
            row = word
    if row:
        rows.append(row)
    return rows


def timed_lines(transcript: Transcript, *, min_ms: Sequence[int] | None = None) -> list[TimedLine]:
    """The lines with display times: per speaker, in order and never overlapping.

    A line starting before the same speaker's previous line ends is moved to start when it
    ends; every line lasts at least ``MIN_CUE_MS`` (or ``min_ms[i]`` for line ``i``).
    """
    by_speaker: dict[str, list[int]] = {}
    for i, line in enumerate(transcript.lines):
        by_speaker.setdefault(line.speaker_identity, []).append(i)
    times: list[tuple[int, int]] = [(0, 0)] * len(transcript.lines)
    for indices in by_speaker.values():
        indices.sort(key=lambda i: (transcript.lines[i].start, transcript.lines[i].end))
        free_from = 0
        for i in indices:
            line = transcript.lines[i]
            start = max(round(line.start * 1000), free_from)
            shortest = max(MIN_CUE_MS, min_ms[i] if min_ms is not None else 0)
            end = max(round(line.end * 1000), start + shortest)
            times[i] = (start, end)
            free_from = end
    timed = [
        TimedLine(line=line, start_ms=start, end_ms=end)
        for line, (start, end) in zip(transcript.lines, times, strict=True)
    ]
    timed.sort(key=lambda t: (t.start_ms, t.end_ms))
    return timed


def cues(
    transcript: Transcript,
    *,
    width: int = LINE_WIDTH,
    max_lines: int | None = None,
    label_prefix: bool = False,
) -> list[Cue]:
    """Display cues: each line wrapped to ``width``; one cue per segment, or with
    ``max_lines`` a long segment split over several cues of at most that many lines.

    With ``label_prefix`` the first cue of each line starts with ``Speaker name:`` (for
    formats without voice spans).
    """
    chunked: list[list[list[str]]] = []
    for line in transcript.lines:
        text = _clean(line.text)
        if label_prefix:
            text = f"{_speaker(line)}: {text}"
        wrapped = _wrap(text, width) or [""]
        step = max_lines or len(wrapped)
        chunked.append([wrapped[i : i + step] for i in range(0, len(wrapped), step)])
    index = {id(line): i for i, line in enumerate(transcript.lines)}
    out: list[Cue] = []
    for timed in timed_lines(transcript, min_ms=[len(c) for c in chunked]):
        chunks = chunked[index[id(timed.line)]]
        sizes = [sum(len(s) for s in chunk) or 1 for chunk in chunks]
        total = sum(sizes)
        span = timed.end_ms - timed.start_ms
        base_id = quote(timed.line.segment_id, safe="-_.~:@+=!*'(),")
        begin, done = timed.start_ms, 0
        for n, (chunk, size) in enumerate(zip(chunks, sizes, strict=True)):
            done += size
            last = n == len(chunks) - 1
            end = timed.end_ms if last else max(begin + 1, timed.start_ms + span * done // total)
            out.append(
                Cue(
                    identifier=base_id if n == 0 else f"{base_id}#{n + 1}",
                    start_ms=begin,
                    end_ms=end,
                    speaker=_speaker(timed.line),
                    lines=tuple(chunk),
                )
            )
            begin = end
    return out


def _timestamp(ms: int, separator: str) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _no_arrows(text: str) -> str:
    """``text`` with every ``-->`` made ``->`` (repeatedly: ``--->`` would leave one)."""
    while "-->" in text:
        text = text.replace("-->", "->")
    return text


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(unix: float) -> str:
    moment = datetime.datetime.fromtimestamp(unix, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _note(transcript: Transcript) -> str:
    room = _no_arrows(_clean(transcript.room_name))
    language = "original languages" if transcript.language == ORIGINAL else transcript.language
    return (
        f"Transcript of room {room} ({language}); "
        f"times from the meeting start, {_iso(transcript.meeting_start)}"
    )


def to_webvtt(transcript: Transcript, *, width: int = LINE_WIDTH) -> str:
    """The transcript as WebVTT, one voice span per cue."""
    captions = []
    for cue in cues(transcript, width=width):
        voice = f"<v {_vtt_escape(cue.speaker)}>"
        text = [_vtt_escape(s) for s in cue.lines]
        text[0] = voice + text[0]
        captions.append(
            webvtt.Caption(
                start=_timestamp(cue.start_ms, "."),
                end=_timestamp(cue.end_ms, "."),
                text=text,
                identifier=cue.identifier,
            )
        )
    metadata = ["Kind: captions"]
    if transcript.language != ORIGINAL:
        metadata.append(f"Language: {transcript.language}")
    document = webvtt.WebVTT(
        captions=captions, metadata=metadata, header_comments=[_note(transcript)]
    )
    return str(document.content)


def to_srt(transcript: Transcript, *, width: int = LINE_WIDTH) -> str:
    """The transcript as SubRip; each segment's first cue starts with the speaker's name.

    SubRip has no escapes: text is written as spoken, except that ``-->`` becomes ``->`` so
    that no line can read as a timing line.
    """
    out: list[str] = []
    for number, cue in enumerate(cues(transcript, width=width, label_prefix=True), start=1):
        out.append(str(number))
        out.append(f"{_timestamp(cue.start_ms, ',')} --> {_timestamp(cue.end_ms, ',')}")
        out.extend(_no_arrows(s) for s in cue.lines)
        out.append("")
    return "\n".join(out)


def to_json(transcript: Transcript) -> str:
    """The transcript as one JSON document (times in seconds from the meeting start)."""
    document = {
        "room": transcript.room_name,
        "meeting": transcript.room_sid,
        "language": transcript.language,
        "meeting_start": _iso(transcript.meeting_start),
        "meeting_start_unix": round(transcript.meeting_start, 3),
        "segments": [
            {
                "id": t.line.segment_id,
                "start": t.start_ms / 1000,
                "end": t.end_ms / 1000,
                "speaker": t.line.speaker_identity,
                "name": t.line.speaker_name,
                "language": t.line.language,
                "source_language": t.line.source_language,
                "translated": t.line.translated,
                "interpreter": t.line.interpreter,
                "engine": t.line.engine,
                "text": t.line.text,
                "glossary": [
                    {"source": term.source, "target": term.target, "found": term.found}
                    for term in t.line.terms
                ],
            }
            for t in timed_lines(transcript)
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1)


def render(transcript: Transcript, fmt: ExportFormat) -> str:
    """``transcript`` in ``fmt`` (``"vtt"``, ``"srt"`` or ``"json"``)."""
    if fmt == "vtt":
        return to_webvtt(transcript)
    if fmt == "srt":
        return to_srt(transcript)
    if fmt == "json":
        return to_json(transcript)
    raise ValueError(f"unknown transcript format {fmt!r}")
