"""``python -m interpreter transcript {export,list,purge}``: stored transcripts from the shell.

- ``export --room R [--lang es|original] [--format vtt|srt|json] [--meeting SID] [-o FILE]``
  writes a room's latest meeting (or the one given) to stdout or, atomically, to ``FILE``.
- ``list [--room R] [--json]`` shows every stored meeting: room, sid, start, lines, languages.
- ``purge [--older-than DAYS]`` deletes meetings in which nothing was said for ``DAYS``
  (default: the retention setting). Nothing is ever deleted except by this command.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from captions.export import FORMATS, ExportFormat, render
from captions.store import (
    ORIGINAL,
    MeetingInfo,
    TranscriptLanguage,
    TranscriptNotFoundError,
    TranscriptStore,
)
from interpreter.errors import ConfigError, UnknownLanguageError
from languages import normalize_language

__all__ = [
    "add_transcript_parser",
    "export_transcript",
    "list_meetings",
    "purge_transcripts",
    "run_transcript",
    "write_atomically",
]


def add_transcript_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``transcript`` command and its subcommands to ``sub`` (an argparse subparsers).

    Returns the ``transcript`` parser so the caller can add its common options.
    """
    transcript: argparse.ArgumentParser = sub.add_parser(
        "transcript",
        help="export, list or purge stored meeting transcripts",
        description="Work with the transcript store (INTERPRETER_DB_URL, by default a SQLite "
        "file in the data directory).",
    )
    transcript.add_argument("--db-url", dest="db_url", help="database URL (INTERPRETER_DB_URL)")
    actions = transcript.add_subparsers(dest="transcript_command", required=True, metavar="ACTION")

    export = actions.add_parser("export", help="write one meeting's transcript in one language")
    export.add_argument("--room", required=True, help="room name")
    export.add_argument("--lang", default=ORIGINAL, help="BCP-47 code, or 'original' (the default)")
    export.add_argument("--format", dest="fmt", choices=FORMATS, default="vtt")
    export.add_argument("--meeting", help="room sid (default: the room's latest meeting)")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    listing = actions.add_parser("list", help="list stored meetings")
    listing.add_argument("--room", help="only this room")
    listing.add_argument("--json", action="store_true", help="one JSON document")

    purge = actions.add_parser("purge", help="delete meetings older than the retention period")
    purge.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="days since anything was said (INTERPRETER_TRANSCRIPT_RETENTION_DAYS)",
    )
    return transcript


def run_transcript(
    args: argparse.Namespace,
    *,
    db_url: str,
    retention_days: float | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the parsed ``transcript`` subcommand against ``db_url``; the exit status."""
    out = out or sys.stdout
    action = args.transcript_command
    if action == "export":
        return asyncio.run(
            export_transcript(
                db_url=db_url,
                room=args.room,
                language=args.lang,
                fmt=args.fmt,
                meeting=args.meeting,
                output=args.output,
                out=out,
            )
        )
    if action == "list":
        return asyncio.run(list_meetings(db_url=db_url, room=args.room, as_json=args.json, out=out))
    if action == "purge":
        days = args.older_than if args.older_than is not None else retention_days
        if days is None:
            raise ConfigError(
                "say how old: --older-than DAYS or INTERPRETER_TRANSCRIPT_RETENTION_DAYS"
            )
        return asyncio.run(purge_transcripts(db_url=db_url, older_than_days=days, out=out))
    raise AssertionError(f"unhandled transcript action {action}")


async def export_transcript(
    *,
    db_url: str,
    room: str,
    language: str,
    fmt: ExportFormat,
    meeting: str | None = None,
    output: Path | None = None,
    out: TextIO,
) -> int:
    """Write the transcript to ``output`` (atomically) or ``out``; 1 if there is none."""
    lang: TranscriptLanguage = ORIGINAL
    try:
        if language.strip().lower() != ORIGINAL:
            lang = normalize_language(language)
    except UnknownLanguageError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    async with await TranscriptStore.open(db_url) as store:
        try:
            transcript = await store.transcript(room, lang, meeting=meeting)
        except TranscriptNotFoundError as e:
            hint = f" (available: {', '.join(e.available)})" if e.available else ""
            print(f"error: {e.message}{hint}", file=sys.stderr)
            return 1
    text = await asyncio.to_thread(render, transcript, fmt)
    if output is None:
        out.write(text)
        return 0
    await asyncio.to_thread(write_atomically, output, text)
    print(f"{output}: {len(transcript.lines)} lines", file=sys.stderr)
    return 0


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` whole or not at all (a temporary file
    renamed into place)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _iso(unix: float | None) -> str:
    if unix is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(unix, datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _as_dict(m: MeetingInfo) -> dict[str, object]:
    return {
        "room": m.room_name,
        "meeting": m.room_sid,
        "started": _iso(m.started_at),
        "last_activity": _iso(m.last_activity),
        "segments": m.segments,
        "languages": list(m.languages),
    }


async def list_meetings(
    *, db_url: str, room: str | None = None, as_json: bool = False, out: TextIO
) -> int:
    """Print the stored meetings (oldest first) as a table or JSON."""
    async with await TranscriptStore.open(db_url) as store:
        found = await store.meetings(room=room)
    if as_json:
        out.write(json.dumps({"meetings": [_as_dict(m) for m in found]}, indent=1) + "\n")
        return 0
    rows = [("ROOM", "MEETING", "STARTED", "LAST", "LINES", "LANGUAGES")]
    for m in found:
        d = _as_dict(m)
        rows.append(
            (
                m.room_name,
                m.room_sid,
                str(d["started"]),
                str(d["last_activity"]),
                str(m.segments),
                ",".join(m.languages) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return 0


async def purge_transcripts(*, db_url: str, older_than_days: float, out: TextIO) -> int:
    """Delete meetings with nothing said in ``older_than_days`` days; print how many."""
    if older_than_days < 0:
        raise ConfigError("--older-than must be a number of days, 0 or more")
    async with await TranscriptStore.open(db_url) as store:
        purged = await store.purge(older_than=datetime.timedelta(days=older_than_days))
    out.write(f"purged {purged} meeting(s) older than {older_than_days:g} days\n")
    return 0
