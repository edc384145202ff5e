"""A throwaway PostgreSQL cluster that tests and benches can stop and start again, and a
meeting that goes on through its restart.

The cluster is made and removed by ``scripts/pg_test_server.sh`` (loopback, trust auth, no
fsync: never for data); :meth:`PostgresCluster.stop_server` and
:meth:`PostgresCluster.start_server` stop and restart its server on the same port with the
options it was first started with (read back from ``postmaster.opts``), so a client sees a real
restart: connections dropped, refused while it is down, the data kept. As root the server runs
as the ``postgres`` user, as the script does.

:func:`meeting_through_a_restart` is the scenario of ``tests/integration/
test_database_restart.py`` and ``bench/db_restart.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from livekit import rtc

from captions.errors import CaptionsError
from captions.protocol import CAPTION_SOURCE_SEGMENT_ID
from captions.store import ORIGINAL, TranscriptLanguage, TranscriptStore
from interpreter.testing.clients import ReceivedCaption, Speaker, join_listener
from interpreter.testing.livekit import LiveKitFixture, wait_for
from interpreter.testing.speech import SPANISH, render
from languages import Language

__all__ = [
    "Line",
    "PostgresCluster",
    "RestartRun",
    "agent_log_lines",
    "meeting_speech",
    "meeting_through_a_restart",
]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "pg_test_server.sh"


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found is not None:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return candidates[0].parent


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresCluster:
    """A running test cluster: :attr:`url` to connect, :meth:`remove` when done."""

    def __init__(self, directory: Path, url: str) -> None:
        self.directory = directory
        self.url = url

    @classmethod
    def create(cls) -> PostgresCluster:
        """A new cluster in a new directory under the system temp dir (the ``postgres`` user
        must be able to reach it, which a pytest ``tmp_path`` under root's 0700 dir is not)."""
        directory = Path(tempfile.mkdtemp(prefix="pgtest-"))
        started = subprocess.run(
            [str(SCRIPT), "start", str(directory)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if started.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError(f"could not start a test PostgreSQL: {started.stderr}")
        return cls(directory, started.stdout.strip())

    def _pg_ctl(self, *args: str) -> None:
        data = self.directory / "data"
        subprocess.run(
            _as_owner([str(_bindir() / "pg_ctl"), "-D", str(data), *args]),
            capture_output=True,
            check=True,
            timeout=60,
        )

    def stop_server(self) -> float:
        """Stop the server (fast mode: sessions are ended, as in a restart); returns the
        ``time.time()`` it was down."""
        self._pg_ctl("-m", "fast", "-w", "stop")
        return time.time()

    def start_server(self) -> float:
        """Start the server again with its first options; returns the ``time.time()`` it
        accepted connections."""
        opts = shlex.split((self.directory / "data" / "postmaster.opts").read_text())
        # "<postgres binary>" "-D" "<data dir>" <options...>
        options = [a for i, a in enumerate(opts[1:]) if a != "-D" and opts[i] != "-D"]
        self._pg_ctl(
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            shlex.join(options),
            "start",
        )
        return time.time()

    def remove(self) -> None:
        """Stop the server and delete the cluster."""
        subprocess.run([str(SCRIPT), "stop", str(self.directory)], check=False, timeout=60)


SENTENCES = [
    *SPANISH,
    "Este año hemos trabajado mucho y los resultados son muy buenos.",
    "Las ventas han crecido en todos los países donde estamos presentes.",
]
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def meeting_speech(path: Path) -> np.ndarray:
    """About 20 s of Spanish sentences (the speaker goes on well past a 5 s outage)."""
    return render(SENTENCES, "es", path)


def agent_log_lines(log: str, message: str, room: str) -> list[tuple[float, dict[str, str]]]:
    """(wall time, fields) of the agents' ``message`` lines for ``room`` in a worker log."""
    found: list[tuple[float, dict[str, str]]] = []
    for line in log.splitlines():
        if f": {message} " not in line or f"room={room} " not in line + " ":
            continue
        stamp = LOG_TIME.match(line)
        if stamp is None:
            continue
        at = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        fields = dict(re.findall(r"(\w+)=(\S+)", line.split(message, 1)[1]))
        found.append((at, fields))
    return found


Line = tuple[str, bool, str]
"""A transcript line as a listener can check it: (source segment id, translated, text)."""


def _line(caption: ReceivedCaption) -> Line:
    source = caption.attributes.get(CAPTION_SOURCE_SEGMENT_ID, "")
    return source, caption.translated, " ".join(caption.text.split())


@dataclass
class RestartRun:
    """What a listener saw of a meeting whose database restarted, and what was stored."""

    down_at: float
    """``time.time()`` the server was stopped."""
    up_at: float
    """``time.time()`` it accepted connections again."""
    seen: list[ReceivedCaption]
    """Final captions the listener received (source and English), in order."""
    stored: list[Line] = field(default_factory=list)
    """The stored transcript (original, then English), each in time order."""
    caught_up_at: float | None = None
    """``time.time()`` the transcript first held every line seen before :attr:`up_at`."""

    @property
    def outage(self) -> float:
        return self.up_at - self.down_at

    @property
    def catch_up(self) -> float | None:
        """Seconds from the server accepting connections to the transcript holding every line
        the listener had seen by then (``None``: never)."""
        return None if self.caught_up_at is None else self.caught_up_at - self.up_at

    def during_outage(self) -> list[ReceivedCaption]:
        return [c for c in self.seen if self.down_at <= c.at <= self.up_at]

    def longest_caption_gap(self) -> float:
        """The longest wait between final captions at the listener from the first caption
        to the last (the outage included)."""
        times = sorted(c.at for c in self.seen)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def store_waits(self, log: str, room: str) -> dict[str, list[float]]:
        """What storing cost each translated caption before it went out (seconds from the
        translation to the caption published, by the agent's ``unit translated`` lines of the
        worker ``log``), for units published while the database was down (or just after) and
        the others."""
        waits: dict[str, list[float]] = {"during_outage": [], "otherwise": []}
        for at, fields in agent_log_lines(log, "unit translated", room):
            wait = float(fields["published_after"]) - float(fields["translated_after"])
            key = "during_outage" if self.down_at <= at <= self.up_at + 0.5 else "otherwise"
            waits[key].append(round(wait, 3))
        return waits

    def missing(self) -> list[Line]:
        """Lines the listener saw that the transcript does not hold."""
        stored = set(self.stored)
        return [line for line in map(_line, self.seen) if line not in stored]

    def duplicated(self) -> list[Line]:
        keys = [(segment, translated) for segment, translated, _ in self.stored]
        return [line for line in self.stored if keys.count(line[:2]) > 1]

    def in_order(self) -> bool:
        """Each language's stored lines are in the order the listener received them."""
        for translated in (False, True):
            seen = [line for line in map(_line, self.seen) if line[1] == translated]
            stored = [line for line in self.stored if line[1] == translated]
            if [line for line in stored if line in seen] != seen:
                return False
        return True


async def _stored(store: TranscriptStore, room: str) -> list[Line]:
    lines: list[Line] = []
    languages: tuple[tuple[TranscriptLanguage, bool], ...] = (
        (ORIGINAL, False),
        (Language("en"), True),
    )
    for language, translated in languages:
        try:
            transcript = await store.transcript(room, language)
        except CaptionsError:
            continue  # nothing in that language yet
        lines += [(t.segment_id, translated, " ".join(t.text.split())) for t in transcript.lines]
    return lines


async def meeting_through_a_restart(
    lk: LiveKitFixture,
    pg: PostgresCluster,
    speech: np.ndarray,
    *,
    room: str,
    settled: Callable[[], bool] = lambda: True,
    outage: float = 5.0,
    within: float = 60.0,
) -> RestartRun:
    """A Spanish speaker says ``speech`` to an English listener in ``room`` (a translator
    worker serves ``lk`` on ``pg``); once the first caption arrived, the database is stopped
    for ``outage`` seconds and started again while the speaker goes on. Returns the run once
    the listener has a translation of every source caption and the transcript holds every
    line (or after ``within`` seconds). Every room joined is left."""
    rooms: list[rtc.Room] = []
    try:
        lena = await join_listener(lk, room, "lena", "en")
        rooms.append(lena.room)
        ana_room = await lk.connect(room, "ana", attributes={"language": "es"})
        rooms.append(ana_room)
        ana = Speaker(ana_room)
        await ana.publish()
        await wait_for(
            lambda: (
                len(
                    getattr(
                        lena.room.remote_participants.get("translator-ana"),
                        "track_publications",
                        {},
                    )
                )
                >= 1
            ),
            within=120,
            what="the translator's English track",
        )
        await wait_for(settled, within=120, what="the worker's idle process")
        playing = asyncio.create_task(ana.play(speech))
        try:
            await wait_for(
                lambda: len(lena.finals(translated=False)) >= 1, within=within, what="a caption"
            )
            down_at = await asyncio.to_thread(pg.stop_server)
            await asyncio.sleep(outage)
            up_at = await asyncio.to_thread(pg.start_server)
            run = RestartRun(down_at=down_at, up_at=up_at, seen=[])
            before = [_line(c) for c in lena.finals() if c.language in ("es", "en")]
            async with await TranscriptStore.open(pg.url) as store:
                while run.caught_up_at is None and time.time() < up_at + within:
                    stored = set(await _stored(store, room))
                    if all(line in stored for line in before):
                        run.caught_up_at = time.time()
                    else:
                        await asyncio.sleep(0.1)
                await playing
                await ana.silence(2.0)

                def complete() -> bool:
                    sources = lena.finals(language="es", translated=False)
                    return len(lena.finals(language="en", translated=True)) >= len(sources)

                await wait_for(complete, within=within, what="a translation of every caption")
                await asyncio.sleep(1.0)
                run.seen = [c for c in lena.finals() if c.language in ("es", "en")]
                deadline = time.time() + within
                while True:
                    run.stored = await _stored(store, room)
                    if not run.missing() or time.time() > deadline:
                        break
                    await asyncio.sleep(0.2)
        finally:
            playing.cancel()
            await asyncio.gather(playing, return_exceptions=True)
        await lena.aclose()
        return run
    finally:
        for r in rooms:
            await r.disconnect()
