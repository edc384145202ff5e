"""Watching translator agents from a listener's room and from workers' logs, and checking what
a listener saw against the stored transcript (tests, benches)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import psutil
from livekit import rtc

from captions.protocol import ATTR_SOURCE, ATTR_WORKER, CAPTION_SOURCE_SEGMENT_ID, agent_identity
from interpreter.testing.clients import ListeningClient, ReceivedCaption, Speaker
from interpreter.testing.livekit import WorkerProcess, wait_for

__all__ = [
    "Failover",
    "TranslatorWatch",
    "kill_a_translating_worker",
    "presence_of",
    "speak_in_turn",
    "speakers_joined",
    "transcript_problems",
    "translator_publishing",
]

_JOINED = re.compile(r"translator joined .*speaker=(\S+)")
_PRESENCE = re.compile(r"worker registered .*presence=(\S+)")


def speakers_joined(worker_log: str) -> list[str]:
    """The speakers whose translators joined, in a worker's log, in order (once per join)."""
    return _JOINED.findall(worker_log)


def presence_of(worker: WorkerProcess) -> str:
    """The presence name a worker logged at registration (its translators carry it)."""
    found = _PRESENCE.search(worker.log())
    return found.group(1) if found else ""


def translator_publishing(
    room: rtc.Room, speaker: str, language: str = "en"
) -> rtc.RemoteParticipant | None:
    """``speaker``'s translator as ``room`` sees it, once it publishes its ``language`` track."""
    agent = room.remote_participants.get(agent_identity(speaker))
    if agent is None or not any(p.name == language for p in agent.track_publications.values()):
        return None
    return agent


class TranslatorWatch:
    """Polls a listener's view of the room every 20 ms: the most translators any one speaker had
    at once (``most_at_once``), and each speaker's translator sessions (participant sids), in
    order. Stop with :meth:`aclose`."""

    def __init__(self, room: rtc.Room, speakers: Iterable[str]) -> None:
        self.room = room
        self.most_at_once = 0
        self.sessions: dict[str, list[str]] = {s: [] for s in speakers}
        self._task = asyncio.create_task(self._run(), name="translator-watch")

    async def _run(self) -> None:
        while True:
            per_speaker: dict[str, int] = {}
            for p in list(self.room.remote_participants.values()):
                source = p.attributes.get(ATTR_SOURCE, "")
                if not source:
                    continue
                per_speaker[source] = per_speaker.get(source, 0) + 1
                sessions = self.sessions.setdefault(source, [])
                if p.sid not in sessions:
                    sessions.append(p.sid)
            self.most_at_once = max(self.most_at_once, *per_speaker.values(), 0)
            await asyncio.sleep(0.02)

    async def aclose(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


async def speak_in_turn(
    listener: ListeningClient,
    speakers: Mapping[str, Speaker],
    speech: Mapping[str, np.ndarray],
    *,
    language: str = "en",
    within: float = 30.0,
) -> None:
    """Each speaker in turn plays its ``speech``; wait for the listener's next translated
    ``language`` caption from that speaker before the next one talks."""
    for name, speaker in speakers.items():
        before = len(listener.finals(language=language, translated=True, sender=name))
        await speaker.play(speech[name])
        await speaker.silence(1.5)
        await wait_for(
            lambda name=name, before=before: (  # type: ignore[misc]
                len(listener.finals(language=language, translated=True, sender=name)) > before
            ),
            within=within,
            what=f"a {language} caption of {name}",
        )


def transcript_problems(exported_json: str, seen: Iterable[ReceivedCaption]) -> list[str]:
    """What is wrong with a stored transcript (``transcript export --format json``) against the
    final captions a listener saw in its language: lines stored twice, captions shown twice,
    captions missing, lines nobody saw. Empty when the two agree."""
    stored = [(seg["id"], seg["text"]) for seg in json.loads(exported_json)["segments"]]
    shown = [(c.attributes[CAPTION_SOURCE_SEGMENT_ID], c.text) for c in seen]
    problems: list[str] = []
    ids = [segment_id for segment_id, _ in stored]
    if len(ids) != len(set(ids)):
        problems.append(f"lines stored twice: {sorted(i for i in set(ids) if ids.count(i) > 1)}")
    if len(shown) != len(set(shown)):
        problems.append(f"captions shown twice: {shown}")
    missing = [caption for caption in shown if caption not in stored]
    if missing:
        problems.append(f"captions the listener saw missing from the transcript: {missing}")
    unseen = [line for line in stored if line not in shown]
    if unseen:
        problems.append(f"stored lines the listener never saw: {unseen}")
    return problems


@dataclass
class Failover:
    """One worker killed under its translators: who died, who took over, and when (seconds from
    the kill) each orphaned speaker's old translator left the listener's view (``gone``) and its
    new one published (``back``). ``job_processes`` are the dead worker's job processes."""

    victim: WorkerProcess
    survivor: WorkerProcess
    orphaned: list[str]
    back: dict[str, float] = field(default_factory=dict)
    gone: dict[str, float] = field(default_factory=dict)
    killed_at: float = 0.0
    job_processes: list[psutil.Process] = field(default_factory=list)

    def job_processes_left(self) -> list[int]:
        return [p.pid for p in self.job_processes if p.is_running() and p.status() != "zombie"]


async def kill_a_translating_worker(
    room: rtc.Room, workers: Sequence[WorkerProcess], *, language: str = "en", within: float = 60
) -> Failover:
    """SIGKILL one of two ``workers`` that runs translators (the sweep-lease holder if it runs
    any), then wait until each of its speakers' translators is replaced, as ``room`` sees it (a
    new participant publishing ``language``)."""
    publishing = [
        agent
        for p in list(room.remote_participants.values())
        if (agent := translator_publishing(room, p.attributes.get(ATTR_SOURCE, ""), language))
    ]
    runs = {
        id(w): [a for a in publishing if a.attributes.get(ATTR_WORKER) == presence_of(w)]
        for w in workers
    }
    running = [w for w in workers if runs[id(w)]]
    sweeper = [w for w in running if "orphan sweep lease taken" in w.log()]
    victim = (sweeper or running)[0]
    survivor = next(w for w in workers if w is not victim)
    old = {a.attributes[ATTR_SOURCE]: a for a in runs[id(victim)]}
    failover = Failover(
        victim=victim,
        survivor=survivor,
        orphaned=sorted(old),
        job_processes=psutil.Process(victim.proc.pid).children(recursive=True),
    )
    os.kill(victim.proc.pid, signal.SIGKILL)
    failover.killed_at = time.time()
    killed = time.monotonic()

    def replaced() -> bool:
        for s, old_agent in old.items():
            now = room.remote_participants.get(agent_identity(s))
            if s not in failover.gone and (now is None or now.sid != old_agent.sid):
                failover.gone[s] = time.monotonic() - killed
            agent = translator_publishing(room, s, language)
            if s not in failover.back and agent is not None and agent.sid != old_agent.sid:
                failover.back[s] = time.monotonic() - killed
        return len(failover.back) == len(old)

    await wait_for(replaced, within=within, what="new translators for the dead worker's speakers")
    await asyncio.to_thread(victim.proc.wait, 10)
    return failover
