"""Offline TTS (Piper for English, espeak-ng for the rest) through the framework's own entry
points: ``tts.synthesize()`` and ``tts.stream()``. Real engines, real packaged voice, no
network."""

from __future__ import annotations

import asyncio
import subprocess

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import tts

from interpreter.errors import ProviderError, UnknownLanguageError, UnsupportedLanguageError
from interpreter.providers.audio import OutputResampler, parse_wav, to_output_pcm
from interpreter.providers.espeak_tts import EspeakTTS
from interpreter.providers.local_tts import LocalTTS, voiced_languages, voices_for
from interpreter.providers.piper_tts import first_clause

# real engines: Piper's neural voice and espeak-ng
pytestmark = pytest.mark.model

EN_TEXT = "The committee will meet again next Tuesday to discuss the budget."
ES_TEXT = "El comité se reunirá de nuevo el próximo martes para hablar del presupuesto."


def samples(frame: rtc.AudioFrame) -> np.ndarray:
    return np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0


def assert_speech(frame: rtc.AudioFrame, text: str) -> None:
    """48 kHz mono, clearly audible, and about as long as a person would take to say it."""
    assert frame.sample_rate == 48000
    assert frame.num_channels == 1
    audio = samples(frame)
    assert np.sqrt(np.mean(audio**2)) > 0.03, "audio is (nearly) silent"
    words = len(text.split())
    # people speak 2-4 words per second; allow slow voices and trailing silence
    assert words / 5.0 < frame.duration < words / 1.2 + 1.0, frame.duration


def median_f0(frame: rtc.AudioFrame) -> float:
    """Median fundamental frequency (Hz) of the voiced 40 ms windows, by autocorrelation."""
    audio = samples(frame)
    rate = frame.sample_rate
    win = int(0.04 * rate)
    lo, hi = rate // 400, rate // 60
    level = np.sqrt(np.mean(audio**2))
    f0s = []
    for start in range(0, len(audio) - win, win):
        w = audio[start : start + win]
        if np.sqrt(np.mean(w**2)) < level:
            continue
        w = w - w.mean()
        ac = np.correlate(w, w, mode="full")[win - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            f0s.append(rate / lag)
    assert len(f0s) >= 5, "no voiced speech found"
    return float(np.median(f0s))


async def collect_stream(stream: tts.SynthesizeStream) -> rtc.AudioFrame:
    frames = [ev.frame async for ev in stream]
    return rtc.combine_audio_frames(frames)


async def test_english_is_spoken_by_piper_at_48k() -> None:
    engine = LocalTTS(language="en")
    assert engine.provider == "piper"
    frame = await engine.synthesize(EN_TEXT).collect()
    assert_speech(frame, EN_TEXT)
    await engine.aclose()


async def test_spanish_is_spoken_by_espeak_at_48k() -> None:
    engine = LocalTTS(language="es")
    assert engine.provider == "espeak-ng"
    frame = await engine.synthesize(ES_TEXT).collect()
    assert_speech(frame, ES_TEXT)
    await engine.aclose()


@pytest.mark.parametrize("language", ["pt-BR", "fr", "de", "ca", "ro", "ru", "es-AR", "en-GB"])
async def test_other_languages_are_voiced(language: str) -> None:
    engine = LocalTTS(language=language, voice_seed="someone")
    frame = await engine.synthesize("Uno dos tres cuatro cinco seis.").collect()
    assert frame.sample_rate == 48000
    assert frame.duration > 1.0
    await engine.aclose()


async def test_stream_speaks_a_sentence_before_the_input_ends() -> None:
    engine = LocalTTS(language="es", voice_seed=0)
    stream = engine.stream()
    stream.push_text("La reunión de hoy empieza con el presupuesto. ")
    stream.push_text("Después hablamos")
    # the first sentence is complete: its audio must come without waiting for end_input
    first = await asyncio.wait_for(anext(stream), timeout=10)
    assert first.frame.sample_rate == 48000
    stream.push_text(" del calendario del año que viene.")
    stream.end_input()
    rest = await collect_stream(stream)
    total = first.frame.duration + rest.duration
    assert total > 4.0  # both sentences were spoken, not just the first
    await stream.aclose()
    await engine.aclose()


async def test_piper_stream_speaks_every_sentence() -> None:
    engine = LocalTTS(language="en", voice_seed=1)
    one = await engine.synthesize("Good morning everyone.").collect()
    stream = engine.stream()
    for word in "Good morning everyone. Thank you all for coming today.".split(" "):
        stream.push_text(word + " ")
    stream.end_input()
    both = await collect_stream(stream)
    assert both.sample_rate == 48000
    assert both.duration > one.duration + 1.0
    await stream.aclose()
    await engine.aclose()


async def test_unvoiced_language_names_itself_and_the_alternatives() -> None:
    with pytest.raises(UnsupportedLanguageError) as info:
        voices_for("gl")
    assert "'gl'" in str(info.value)
    assert "es" in info.value.alternatives
    assert "pt" in info.value.alternatives
    assert "es" in str(info.value)
    with pytest.raises(UnsupportedLanguageError):
        LocalTTS(language="ja")
    assert "gl" not in voiced_languages()


def test_a_code_that_is_no_language_is_rejected() -> None:
    with pytest.raises(UnknownLanguageError):
        LocalTTS(language="xx-nonsense")


@pytest.mark.parametrize("language", ["en", "es"])
async def test_speed_shortens_the_audio(language: str) -> None:
    text = EN_TEXT if language == "en" else ES_TEXT
    engine = LocalTTS(language=language)
    normal = await engine.synthesize(text).collect()
    engine.update_options(speed=1.5)
    fast = await engine.synthesize(text).collect()
    assert fast.duration < 0.85 * normal.duration
    assert engine.speed == 1.5
    await engine.aclose()


async def test_distinct_speakers_get_different_sounding_voices() -> None:
    for language in ("es", "en"):
        a = LocalTTS(language=language, voice_seed=0)
        b = LocalTTS(language=language, voice_seed=1)
        assert a.voice != b.voice
        text = ES_TEXT if language == "es" else EN_TEXT
        # Piper draws fresh noise for every synthesis, which moves one sentence's median
        # pitch by several percent: each voice is measured over three syntheses
        fa = rtc.combine_audio_frames([await a.synthesize(text).collect() for _ in range(3)])
        fb = rtc.combine_audio_frames([await b.synthesize(text).collect() for _ in range(3)])
        f0a, f0b = median_f0(fa), median_f0(fb)
        assert abs(f0a - f0b) / min(f0a, f0b) > 0.08, (language, f0a, f0b)
        await a.aclose()
        await b.aclose()


def test_a_speaker_identity_always_gets_the_same_voice() -> None:
    ids = [f"participant-{i}" for i in range(8)]
    first = [LocalTTS(language="fr", voice_seed=i).voice for i in ids]
    again = [LocalTTS(language="fr", voice_seed=i).voice for i in ids]
    assert first == again
    assert len(set(first)) > 1
    # ordinals give every speaker their own voice while the language has enough of them
    n = len([v for v in voices_for("de") if v.engine == "espeak"])
    assert len({LocalTTS(language="de", voice_seed=i).voice for i in range(n)}) == n


def test_missing_espeak_binary_is_reported_with_the_package_name() -> None:
    with pytest.raises(ProviderError, match="espeak-ng"):
        EspeakTTS(language="es", executable="no-such-espeak-binary")


async def test_a_failing_engine_raises_instead_of_going_silent() -> None:
    engine = EspeakTTS(language="es", executable="false")  # exits 1 like a broken espeak-ng
    with pytest.raises(ProviderError, match="espeak-ng exited"):
        await engine.synthesize(ES_TEXT).collect()
    await engine.aclose()


def test_resampling_keeps_pitch_and_duration() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    out = np.frombuffer(to_output_pcm(tone, rate), dtype=np.int16).astype(np.float32)
    assert abs(len(out) - 48000) <= 2
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 48000 / len(out) - 1000) < 2
    # no energy folded back from imaging: everything above 1.5 kHz is far below the tone
    assert spectrum[int(1500 * len(out) / 48000) :].max() < 0.01 * spectrum.max()


def test_streamed_wav_header_from_espeak_is_understood() -> None:
    pcm = (np.arange(100, dtype=np.int16) * 3).tobytes()
    header = (
        b"RIFF\x24\xf0\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x22\x56\x00\x00"
        b"\x44\xac\x00\x00\x02\x00\x10\x00data\x00\xf0\xff\x7f"
    )
    audio, rate = parse_wav(header + pcm)
    assert rate == 22050
    assert np.array_equal(audio, np.arange(100, dtype=np.int16) * 3)
    with pytest.raises(ValueError):
        parse_wav(b"not a wav file at all")


def test_piper_renders_a_first_clause_of_three_words_or_more_on_its_own() -> None:
    assert first_clause("I agree with the proposal, but we need a clear budget.") == (
        "I agree with the proposal,",
        "but we need a clear budget.",
    )
    # too short a clause, or nothing after it in its sentence: the sentence stays whole
    assert first_clause("Yes, we do.") == ("Yes, we do.", "")
    assert first_clause("Good morning, everyone. Today, we talk about money.")[1] == ""
    # a comma inside a number is no clause end
    assert first_clause("It costs 1,000 dollars, more or less than before.")[0] == (
        "It costs 1,000 dollars,"
    )


async def test_piper_speaks_a_sentence_split_at_its_first_clause_whole() -> None:
    engine = LocalTTS(language="en")
    text = "I agree with the proposal of the committee, but we need a clear budget first."
    frames = [ev.frame async for ev in engine.synthesize(text)]
    whole = rtc.combine_audio_frames(frames)
    assert_speech(whole, text)
    head = await engine.synthesize(first_clause(text)[0]).collect()
    tail = await engine.synthesize(first_clause(text)[1]).collect()
    # both clauses, nothing more (Piper's durations vary a little from one render to the next)
    assert whole.duration == pytest.approx(head.duration + tail.duration, abs=0.3)
    assert whole.duration > head.duration + 1.0
    await engine.aclose()


async def test_espeak_audio_streamed_as_written_is_the_same_audio() -> None:
    engine = EspeakTTS(language="es", variant="m2")
    text = " ".join([ES_TEXT] * 4)  # long enough to arrive in many reads
    streamed = await engine.synthesize(text).collect()
    done = await asyncio.to_thread(
        subprocess.run,
        ["espeak-ng", "-v", "es+m2", "-s", "175", "-b", "1", "--stdin", "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    )
    audio, rate = parse_wav(done.stdout)
    once = np.frombuffer(to_output_pcm(audio, rate), dtype=np.int16)
    pieces = np.frombuffer(bytes(streamed.data), dtype=np.int16)
    # the framework ends a synthesis with a 10 ms silent marker frame
    assert 0 <= len(pieces) - len(once) <= 480 and not pieces[len(once) :].any()
    assert np.abs(pieces[: len(once)].astype(np.int32) - once).max() <= 1
    await engine.aclose()


def test_resampling_in_pieces_joins_seamlessly() -> None:
    rate = 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 32767).astype(np.int16)
    resampler = OutputResampler(rate)
    # odd piece sizes, as a pipe delivers them
    pieces = [resampler.push(tone[i : i + 997]) for i in range(0, len(tone), 997)]
    joined = np.frombuffer(b"".join([*pieces, resampler.end()]), dtype=np.int16)
    once = np.frombuffer(to_output_pcm(tone, rate), dtype=np.int16)
    assert len(joined) == len(once)
    assert np.abs(joined.astype(np.int32) - once).max() <= 1
