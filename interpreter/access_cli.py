"""``python -m interpreter access ...``: a room's passcode, for whoever holds the deployment.

- ``set --room R`` asks for the passcode twice on the terminal (never on the command line, where
  other users of the machine would see it in the process list), or reads one line from stdin
  with ``--passcode-stdin``; from then on the token endpoint wants it for ``R``.
- ``clear --room R`` removes it; ``show --room R`` says the room's rule.

These work on the database directly (``--db-url``, ``INTERPRETER_DB_URL``, by default the SQLite
file in the data directory), like the ``glossary`` commands; with ``--web-url`` they go through
the web app's ``/api/rooms/{room}/access`` instead, with a short ``roomAdmin`` token signed with
the deployment's API key (``LIVEKIT_API_KEY`` / ``LIVEKIT_API_SECRET``), for a shell that holds
the key but cannot reach the database. Organizers without the key use the same endpoint with
their own ``roomAdmin`` token.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TextIO

import aiohttp

from captions.errors import TranscriptStoreError
from captions.protocol import ROOM_NAME_RULE, is_valid_room_name
from captions.store import TranscriptStore
from web.access import room_rule
from web.access_store import AccessStore, AccessStoreError, PasscodeError, check_passcode
from web.tokens import room_admin_token

__all__ = ["add_access_parser", "run_access"]


def add_access_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``access`` command and its subcommands to ``sub`` (argparse subparsers)."""
    access: argparse.ArgumentParser = sub.add_parser(
        "access",
        help="set, clear or show a room's passcode (who may join it)",
        description="A room with a passcode gives tokens only to those who send it "
        "(POST /api/token {..., passcode}). Kept in the database (INTERPRETER_DB_URL).",
    )
    actions = access.add_subparsers(dest="access_command", required=True, metavar="ACTION")
    put = actions.add_parser("set", help="set the room's passcode (asked on the terminal)")
    put.add_argument("--room", required=True, help="room name")
    put.add_argument(
        "--passcode-stdin",
        action="store_true",
        help="read the passcode from the first line of stdin instead of asking",
    )
    clear = actions.add_parser("clear", help="remove the room's passcode")
    clear.add_argument("--room", required=True, help="room name")
    show = actions.add_parser("show", help="say whether the room has a passcode")
    show.add_argument("--room", required=True, help="room name")
    for parser in (put, clear, show):
        parser.add_argument("--db-url", dest="db_url", help="database URL (INTERPRETER_DB_URL)")
        parser.add_argument(
            "--web-url",
            dest="access_web_url",
            help="go through this web app (https://meet.example.org) with the API key instead"
            " of the database",
        )
    return access


def _ask_twice(prompt: Callable[[str], str]) -> str | None:
    first = prompt("passcode for the room: ")
    second = prompt("the same again: ")
    if first != second:
        print("error: the two passcodes differ", file=sys.stderr)
        return None
    return first


def run_access(
    args: argparse.Namespace,
    *,
    db_url: str,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
    rule: str = "open",
    api_key: str | None = None,
    api_secret: str | None = None,
) -> int:
    """Run an ``access`` subcommand; the exit status (2: bad arguments or passcode, 1: the
    database or the web app failed). ``rule`` is the deployment's rule for rooms without a
    passcode; ``api_key``/``api_secret`` sign the organizer token used with ``--web-url``."""
    out = out or sys.stdout
    if not is_valid_room_name(args.room):
        print(f"error: room names are {ROOM_NAME_RULE}", file=sys.stderr)
        return 2
    passcode: str | None = None
    if args.access_command == "set":
        if args.passcode_stdin:
            passcode = (stdin or sys.stdin).readline().rstrip("\r\n")
        else:
            passcode = _ask_twice(prompt)
            if passcode is None:
                return 2
        try:
            passcode = check_passcode(passcode)
        except PasscodeError as e:
            print(f"error: {e.message}", file=sys.stderr)
            return 2
    web_url = getattr(args, "access_web_url", None)
    if web_url:
        if not web_url.startswith(("http://", "https://")):
            print("error: --web-url must start with http:// or https://", file=sys.stderr)
            return 2
        if not api_key or not api_secret:
            raise ValueError("access --web-url needs the API key and secret")
        token = room_admin_token(api_key=api_key, api_secret=api_secret, room=args.room)
        return asyncio.run(
            act_over_http(args.access_command, args.room, passcode, web_url, token, out)
        )
    try:
        return asyncio.run(_act(args.access_command, args.room, passcode, db_url, out, rule))
    except (AccessStoreError, TranscriptStoreError) as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1


@asynccontextmanager
async def _access(db_url: str) -> AsyncIterator[AccessStore]:
    async with await TranscriptStore.open(db_url) as transcripts:
        store = AccessStore(transcripts.engine)
        await store.create_schema()
        yield store


async def _act(
    action: str, room: str, passcode: str | None, db_url: str, out: TextIO, rule: str
) -> int:
    async with _access(db_url) as store:
        if action == "set":
            assert passcode is not None
            await store.set_passcode(room, passcode)
            out.write(f"room {room}: passcode set\n")
        elif action == "clear":
            had = await store.clear(room)
            out.write(f"room {room}: {'passcode removed' if had else 'had no passcode'}\n")
        elif action == "show":
            out.write(f"room {room}: {room_rule(await store.has_passcode(room), rule)}\n")
        else:
            raise AssertionError(f"unhandled access command {action}")
    return 0


async def act_over_http(
    action: str, room: str, passcode: str | None, web_url: str, token: str, out: TextIO
) -> int:
    """``action`` through the web app at ``web_url`` with the organizer ``token``: 0, 2 for a
    refused passcode, 1 for any other refusal or no answer (said on stderr)."""
    url = f"{web_url.rstrip('/')}/api/rooms/{urllib.parse.quote(room, safe='')}/access"
    method = {"set": "PUT", "clear": "DELETE", "show": "GET"}[action]
    body = {"passcode": passcode} if action == "set" else None
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.request(
                method, url, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as response,
        ):
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        print(f"error: no answer from {web_url} ({type(e).__name__})", file=sys.stderr)
        return 1
    if response.status != 200:
        message = answer.get("message") if isinstance(answer, dict) else None
        print(f"error: {response.status} {message or 'refused'}", file=sys.stderr)
        return 2 if response.status == 400 else 1
    if action == "set":
        out.write(f"room {room}: passcode set\n")
    elif action == "clear":
        out.write(f"room {room}: passcode removed, now {answer['rule']}\n")
    else:
        out.write(f"room {room}: {answer['rule']}\n")
    return 0
