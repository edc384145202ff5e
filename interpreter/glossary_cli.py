"""``python -m interpreter glossary ...``: glossary files, and each room's glossary.

- ``check FILE [--format csv|json|tbx]`` reads a file and lists every problem, with line
  numbers; it needs no settings and no database.
- ``set --room R FILE [--format ...]`` checks the file and makes it the room's glossary;
  ``get --room R [-o FILE]`` writes it back out as it was set; ``delete --room R`` removes it.
  These work on the database directly (``--db-url``, ``INTERPRETER_DB_URL``, by default the
  SQLite file in the data directory), like the web API an organizer uses.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from captions.errors import TranscriptStoreError
from captions.protocol import ROOM_NAME_RULE, is_valid_room_name
from captions.store import TranscriptStore
from glossary import MAX_BYTES, Format, GlossaryError, GlossaryStoreError, format_of, load_glossary
from glossary.store import GlossaryStore
from interpreter.transcript_cli import write_atomically

__all__ = [
    "add_glossary_parser",
    "delete_glossary",
    "get_glossary",
    "run_glossary",
    "set_glossary",
]

_FORMAT_CHOICES = ("csv", "json", "tbx")


def add_glossary_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``glossary`` command and its subcommands to ``sub`` (argparse subparsers)."""
    glossary: argparse.ArgumentParser = sub.add_parser(
        "glossary",
        help="check glossary files (CSV, JSON, TBX-Basic); set, get or delete a room's glossary",
        description="Glossary files: CSV with a header row of BCP-47 codes (optional 'note' and "
        '\'keep\' columns), JSON {"terms": [...], "keep": [...]}, or TBX-Basic. A room\'s '
        "glossary is kept in the database (INTERPRETER_DB_URL, by default a SQLite file in the "
        "data directory).",
    )
    actions = glossary.add_subparsers(dest="glossary_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="read a glossary file and list every problem, with line numbers"
    )
    check.add_argument("file", type=Path, help="the glossary file")
    _add_format(check)

    put = actions.add_parser("set", help="check a glossary file and make it a room's glossary")
    put.add_argument("--room", required=True, help="room name")
    put.add_argument("file", type=Path, help="the glossary file")
    _add_format(put)
    _add_db_url(put)

    get = actions.add_parser("get", help="write a room's glossary file as it was set")
    get.add_argument("--room", required=True, help="room name")
    get.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    _add_db_url(get)

    delete = actions.add_parser("delete", help="remove a room's glossary")
    delete.add_argument("--room", required=True, help="room name")
    _add_db_url(delete)
    return glossary


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        dest="glossary_format",
        choices=_FORMAT_CHOICES,
        help="the file's format (default: from its suffix)",
    )


def _add_db_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db-url", dest="db_url", help="database URL (INTERPRETER_DB_URL)")


def run_glossary(
    args: argparse.Namespace,
    *,
    db_url: str | None = None,
    out: TextIO | None = None,
    binary_out: BinaryIO | None = None,
) -> int:
    """Run a ``glossary`` subcommand; the exit status (2: a refused file or bad arguments).

    ``check`` needs nothing else; ``set``, ``get`` and ``delete`` need ``db_url``.
    """
    out = out or sys.stdout
    action = args.glossary_command
    if action == "check":
        return check_glossary(args.file, fmt=args.glossary_format, out=out)
    if db_url is None:
        raise ValueError(f"glossary {action} needs the database URL")
    if not is_valid_room_name(args.room):
        print(f"error: room names are {ROOM_NAME_RULE}", file=sys.stderr)
        return 2
    try:
        if action == "set":
            return asyncio.run(
                set_glossary(
                    db_url=db_url, room=args.room, path=args.file, fmt=args.glossary_format, out=out
                )
            )
        if action == "get":
            return asyncio.run(
                get_glossary(db_url=db_url, room=args.room, output=args.output, out=binary_out)
            )
        if action == "delete":
            return asyncio.run(delete_glossary(db_url=db_url, room=args.room, out=out))
    except (GlossaryStoreError, TranscriptStoreError) as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    raise AssertionError(f"unhandled glossary command {action}")


def _print_problems(name: object, error: GlossaryError) -> None:
    count = len(error.problems)
    print(f"{name}: refused, {count} problem(s):", file=sys.stderr)
    for problem in error.problems:
        print(f"  {problem}", file=sys.stderr)


def check_glossary(path: Path, *, fmt: Format | None, out: TextIO) -> int:
    """Say whether the file at ``path`` is a good glossary: 0, or 2 with every problem."""
    try:
        glossary = load_glossary(path, fmt=fmt)
    except GlossaryError as e:
        _print_problems(path, e)
        return 2
    except ValueError as e:  # a format that cannot be told
        print(f"error: {e}", file=sys.stderr)
        return 2
    per_language = Counter(lang for concept in glossary.concepts for lang in concept.terms)
    counts = ", ".join(f"{lang} {n}" for lang, n in sorted(per_language.items()))
    out.write(
        f"{path}: ok, {len(glossary.concepts)} concepts ({counts or 'none'}), "
        f"{len(glossary.keep)} do-not-translate terms\n"
    )
    return 0


@asynccontextmanager
async def _glossaries(db_url: str) -> AsyncIterator[GlossaryStore]:
    """The room glossaries of the database at ``db_url`` (opened like the transcript store)."""
    async with await TranscriptStore.open(db_url) as transcripts:
        store = GlossaryStore(transcripts.engine)
        await store.create_schema()
        yield store


def _read(path: Path) -> bytes | None:
    """The bytes of ``path``, or ``None`` after saying on stderr why they cannot be read."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            print(
                f"error: {path}: file too large ({size:,} bytes, at most {MAX_BYTES:,})",
                file=sys.stderr,
            )
            return None
        return path.read_bytes()
    except OSError as e:
        print(f"error: cannot read {path}: {e.strerror}", file=sys.stderr)
        return None


async def set_glossary(
    *, db_url: str, room: str, path: Path, fmt: Format | None = None, out: TextIO
) -> int:
    """Check ``path`` and make it ``room``'s glossary: 0, or 2 for a file that is refused or
    cannot be read. Database failures raise (``GlossaryStoreError``, ``TranscriptStoreError``).
    """
    try:
        fmt = fmt or format_of(path.name)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    data = await asyncio.to_thread(_read, path)
    if data is None:
        return 2
    try:
        async with _glossaries(db_url) as store:
            stored = await store.put(room, data, fmt)
    except GlossaryError as e:
        _print_problems(path, e)
        return 2
    out.write(f"glossary set for room {room}: {stored.terms} terms (revision {stored.revision})\n")
    return 0


async def get_glossary(
    *, db_url: str, room: str, output: Path | None = None, out: BinaryIO | None = None
) -> int:
    """Write ``room``'s glossary file to ``output`` (atomically) or ``out`` (stdout): 0, or 1
    when the room has none. Database failures raise, as in :func:`set_glossary`."""
    async with _glossaries(db_url) as store:
        stored = await store.get(room)
    if stored is None:
        print(f"error: room {room} has no glossary", file=sys.stderr)
        return 1
    if output is None:
        sink = out or sys.stdout.buffer
        sink.write(stored.data)
        sink.flush()
        return 0
    await asyncio.to_thread(write_atomically, output, stored.data)
    print(
        f"{output}: {stored.terms} terms ({stored.format}, revision {stored.revision})",
        file=sys.stderr,
    )
    return 0


async def delete_glossary(*, db_url: str, room: str, out: TextIO) -> int:
    """Remove ``room``'s glossary: 0, or 1 when it has none. Database failures raise, as in
    :func:`set_glossary`."""
    async with _glossaries(db_url) as store:
        deleted = await store.delete(room)
    if not deleted:
        print(f"error: room {room} has no glossary", file=sys.stderr)
        return 1
    out.write(f"glossary deleted for room {room}\n")
    return 0
