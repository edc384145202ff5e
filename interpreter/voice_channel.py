"""One translated voice: an audio track named with its language, fed by a queue of units.

The channel speaks units in order. Before each one it asks :class:`~interpreter.pacing.Pacing`
whether the unit is still worth voicing and how fast, so the track never falls more than a few
seconds behind its speaker; skipped units are logged and counted (their captions went out
anyway). The silence a voice leaves after its last word (about 0.3 s for Piper and espeak-ng)
is cut to ``TRAILING_SILENCE``, and the silence before its first word (20-70 ms for Piper) to
``LEADING_SILENCE`` (:class:`TrailTrimmer`): the time goes to the next unit, and the voice is
heard as soon as its first sound is synthesised. Audio goes to the track as the TTS streams
it (Piper and espeak-ng push a clause or a sentence at a time), never after the whole unit.

While a human interpreter voices the language, the channel is *silenced*
(:meth:`VoiceChannel.silence`): the unit being voiced is cancelled, queued units are dropped,
and the audio the source still holds is cleared, so the machine stops within one event-loop
turn. The track stays published (silent), ready for :meth:`VoiceChannel.resume`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import tts, utils

from captions.protocol import track_name
from interpreter import metrics
from interpreter.pacing import Pacing
from interpreter.tasks import retry, spawn
from languages import Language

__all__ = ["OUTPUT_RATE", "AudioSourceFactory", "TrailTrimmer", "VoiceChannel", "VoiceUnit"]

logger = logging.getLogger("interpreter.voice")

OUTPUT_RATE = 48000
UNPUBLISH_TIMEOUT = 3.0
TRAILING_SILENCE = 0.1
"""Seconds of silence kept after a unit's last sound."""
LEADING_SILENCE = 0.02
"""Seconds of silence kept before a unit's first sound."""
QUIET_DBFS = -45.0
"""A frame below this RMS level is silence."""
SOURCE_QUEUE_MS = 400
TRIM_RESOLUTION_MS = 10
"""Silence is judged (and cut) in pieces of this many milliseconds."""
CAPTURE_MS = 200
"""Played audio goes to the track in frames of at most this many milliseconds (judging silence
finely must not multiply the calls into the audio source)."""

AudioSourceFactory = Callable[[], rtc.AudioSource]
"""Makes the audio source of a language track (48 kHz mono)."""


def _real_time_source() -> rtc.AudioSource:
    return rtc.AudioSource(OUTPUT_RATE, 1, queue_size_ms=SOURCE_QUEUE_MS)


class TrailTrimmer:
    """Passes a unit's frames through, holding back quiet ones until sound follows them.

    :meth:`push` returns the frames to play now (of the silence before the first sound, only
    its last ``lead`` seconds); :meth:`end` returns what is left of the held silence, at most
    ``keep`` seconds. Pauses inside the unit are kept whole.
    """

    def __init__(self, *, keep: float = TRAILING_SILENCE, lead: float = LEADING_SILENCE) -> None:
        self._keep = keep
        self._lead = lead
        self._sounded = False
        self._held: list[rtc.AudioFrame] = []

    def push(self, frame: rtc.AudioFrame) -> list[rtc.AudioFrame]:
        if _quiet(frame):
            self._held.append(frame)
            return []
        if not self._sounded:
            self._sounded = True
            self._held = _last(self._held, self._lead)
        out, self._held = [*self._held, frame], []
        return out

    def end(self) -> list[rtc.AudioFrame]:
        out: list[rtc.AudioFrame] = []
        kept = 0
        for frame in self._held:
            room = round(self._keep * frame.sample_rate) - kept
            if room <= 0:
                break
            if frame.samples_per_channel > room:  # a frame longer than what is left: cut it
                pcm = np.frombuffer(frame.data, dtype=np.int16)[: room * frame.num_channels]
                frame = rtc.AudioFrame(pcm.tobytes(), frame.sample_rate, frame.num_channels, room)
            out.append(frame)
            kept += frame.samples_per_channel
        self._held = []
        return out


def _last(frames: list[rtc.AudioFrame], seconds: float) -> list[rtc.AudioFrame]:
    """The last ``seconds`` of ``frames`` (the first frame kept may be cut)."""
    out: list[rtc.AudioFrame] = []
    kept = 0
    for frame in reversed(frames):
        room = round(seconds * frame.sample_rate) - kept
        if room <= 0:
            break
        if frame.samples_per_channel > room:
            pcm = np.frombuffer(frame.data, dtype=np.int16)[-room * frame.num_channels :]
            frame = rtc.AudioFrame(pcm.tobytes(), frame.sample_rate, frame.num_channels, room)
        out.append(frame)
        kept += frame.samples_per_channel
    return out[::-1]


def _slices(frame: rtc.AudioFrame, ms: int = TRIM_RESOLUTION_MS) -> list[rtc.AudioFrame]:
    """``frame`` in pieces of ``ms`` (a TTS emits 200 ms frames; silence is judged finer)."""
    n = frame.sample_rate * ms // 1000
    if frame.samples_per_channel <= n:
        return [frame]
    pcm = np.frombuffer(frame.data, dtype=np.int16)
    step = n * frame.num_channels
    return [
        rtc.AudioFrame(
            pcm[i : i + step].tobytes(),
            frame.sample_rate,
            frame.num_channels,
            len(pcm[i : i + step]) // frame.num_channels,
        )
        for i in range(0, len(pcm), step)
    ]


def _coalesced(frames: list[rtc.AudioFrame], ms: int = CAPTURE_MS) -> list[rtc.AudioFrame]:
    """Consecutive ``frames`` joined into frames of at most ``ms`` (frames of another rate or
    channel layout start a new one; a frame that is longer already stays as it is)."""
    runs: list[tuple[list[rtc.AudioFrame], int]] = []  # (frames, samples per channel)
    for frame in frames:
        if runs:
            run, samples = runs[-1]
            first = run[0]
            layout = (frame.sample_rate, frame.num_channels)
            total = samples + frame.samples_per_channel
            if layout == (first.sample_rate, first.num_channels) and (
                total <= first.sample_rate * ms // 1000
            ):
                run.append(frame)
                runs[-1] = (run, total)
                continue
        runs.append(([frame], frame.samples_per_channel))
    return [
        run[0]
        if len(run) == 1
        else rtc.AudioFrame(
            b"".join(bytes(f.data) for f in run), run[0].sample_rate, run[0].num_channels, samples
        )
        for run, samples in runs
    ]


def _quiet(frame: rtc.AudioFrame) -> bool:
    pcm = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32)
    if len(pcm) == 0:
        return True
    rms = float(np.sqrt(np.mean(pcm * pcm))) / 32768.0
    return rms <= 10 ** (QUIET_DBFS / 20)


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceUnit:
    """A translated unit to speak; ``speech_end`` is the wall time its source speech ended."""

    segment_id: str
    text: str
    speech_end: float


class VoiceChannel:
    """The ``<language>`` track of one translator agent (named by
    :func:`captions.protocol.track_name`).

    Publishing the track is retried with a bounded backoff; a unit that fails to be voiced is
    logged and counted, and the next one is voiced.
    """

    def __init__(
        self,
        *,
        room: rtc.Room,
        language: Language,
        tts: tts.TTS[Any],
        pacing: Pacing | None = None,
        clock: Callable[[], float] = time.time,
        audio_source: AudioSourceFactory | None = None,
    ) -> None:
        self.language = language
        self._room = room
        self._tts = tts
        self._pacing = pacing or Pacing()
        self._clock = clock
        self._queue: utils.aio.Chan[VoiceUnit] = utils.aio.Chan()
        self._source = (audio_source or _real_time_source)()
        self._track = rtc.LocalAudioTrack.create_audio_track(track_name(language), self._source)
        self._publication: rtc.LocalTrackPublication | None = None
        self._task: asyncio.Task[None] | None = None
        self._resampler: rtc.AudioResampler | None = None
        self._resampler_rate = 0
        self._speaking: asyncio.Task[None] | None = None
        self._silenced = False

    @property
    def track_sid(self) -> str | None:
        return self._publication.sid if self._publication else None

    async def start(self) -> None:
        """Publish the track (retried; the last failure is raised) and start voicing."""
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self._publication = await retry(
            lambda: self._room.local_participant.publish_track(self._track, options),
            what="publish_track",
            extra={"language": self.language},
        )
        self._task = spawn(self._speak_loop(), task="voice", name=f"voice-{self.language}")
        logger.info("language track published", extra={"language": self.language})

    @property
    def silenced(self) -> bool:
        return self._silenced

    def say(self, unit: VoiceUnit) -> None:
        """Queue ``unit``; it is spoken after the units queued before it. A silenced channel
        drops it."""
        if self._silenced:
            logger.debug(
                "unit dropped: voice silenced",
                extra={"language": self.language, "segment_id": unit.segment_id},
            )
            return
        if not self._queue.closed:
            self._queue.send_nowait(unit)

    def silence(self) -> int:
        """Stop voicing now and until :meth:`resume`: cancel the unit being voiced, drop the
        queued ones and clear the audio the source has not played yet. The track stays
        published. Returns how many units were cut or dropped."""
        self._silenced = True
        dropped = 0
        while not self._queue.empty():
            self._queue.recv_nowait()
            dropped += 1
        if self._speaking is not None and not self._speaking.done():
            self._speaking.cancel()
            dropped += 1
        self._source.clear_queue()
        self._resampler = None  # it may hold the cut unit's last samples
        if dropped:
            logger.info("voicing stopped", extra={"language": self.language, "units": dropped})
        return dropped

    def resume(self) -> None:
        """Voice units again (those given to :meth:`say` from now on)."""
        self._silenced = False

    async def aclose(self) -> None:
        self._queue.close()
        if self._task is not None:
            await utils.aio.cancel_and_wait(self._task)
        if self._publication is not None and self._room.isconnected():
            # bounded: while the room is disconnecting the answer may never come
            with contextlib.suppress(Exception):
                async with asyncio.timeout(UNPUBLISH_TIMEOUT):
                    await self._room.local_participant.unpublish_track(self._publication.sid)
            logger.info("language track unpublished", extra={"language": self.language})
        await self._source.aclose()
        await self._tts.aclose()

    async def _speak_loop(self) -> None:
        async for unit in self._queue:
            # each unit in a task of its own, so that silence() can cut it mid-sentence
            speaking = asyncio.create_task(self._voice(unit), name=f"voice-unit-{self.language}")
            self._speaking = speaking
            try:
                await asyncio.wait([speaking])
            finally:
                self._speaking = None
                if not speaking.done():  # the loop itself is cancelled
                    await utils.aio.cancel_and_wait(speaking)
            if speaking.cancelled():
                continue  # silenced
            error = speaking.exception()
            if error is not None:  # one unit never ends the voice
                metrics.STAGE_ERRORS.labels("tts", self.language).inc()
                logger.error(
                    "voicing failed",
                    exc_info=(type(error), error, error.__traceback__),
                    extra={"language": self.language, "segment_id": unit.segment_id},
                )

    async def _voice(self, unit: VoiceUnit) -> None:
        lag = self._clock() - unit.speech_end
        decision = self._pacing.decide(lag)
        if not decision.speak:
            metrics.VOICE_SKIPPED.labels(self.language).inc()
            logger.warning(
                "unit not voiced: too late",
                extra={"language": self.language, "segment_id": unit.segment_id, "lag": lag},
            )
            return
        if decision.speed > 1.0:
            metrics.VOICE_SPEEDUP.labels(self.language).inc()
        await self._speak(unit, decision.speed)

    async def _speak(self, unit: VoiceUnit, speed: float) -> None:
        update = getattr(self._tts, "update_options", None)
        if update is not None:
            with contextlib.suppress(TypeError):
                update(speed=speed)
        first = True
        trimmer = TrailTrimmer()
        async with self._tts.synthesize(unit.text) as stream:
            async for audio in stream:
                for frame in self._at_output_rate(audio.frame):
                    if first:
                        first = False
                        metrics.FIRST_AUDIO.labels(self.language).observe(
                            self._clock() - unit.speech_end
                        )
                    played = [out for piece in _slices(frame) for out in trimmer.push(piece)]
                    for out in _coalesced(played):
                        await self._source.capture_frame(out)
        for out in _coalesced(trimmer.end()):
            await self._source.capture_frame(out)

    def _at_output_rate(self, frame: rtc.AudioFrame) -> list[rtc.AudioFrame]:
        if frame.sample_rate == OUTPUT_RATE and frame.num_channels == 1:
            return [frame]
        if self._resampler is None or self._resampler_rate != frame.sample_rate:
            self._resampler = rtc.AudioResampler(frame.sample_rate, OUTPUT_RATE, num_channels=1)
            self._resampler_rate = frame.sample_rate
        return list(self._resampler.push(frame))
