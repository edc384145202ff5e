"""PCM helpers shared by the offline TTS providers.

Engines produce audio at their own rate (Piper and espeak-ng: 22.05 kHz); LiveKit tracks in
this project run at 48 kHz mono 16-bit. :func:`to_output_pcm` does that conversion with soxr
(a band-limited resampler: linear interpolation would alias audibly at these ratios).
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt
import soxr

__all__ = [
    "OUTPUT_NUM_CHANNELS",
    "OUTPUT_SAMPLE_RATE",
    "OutputResampler",
    "parse_wav",
    "to_output_pcm",
    "wav_header",
]

OUTPUT_SAMPLE_RATE = 48000
"""Sample rate of every offline TTS output (what an ``rtc.AudioSource(48000, 1)`` takes)."""

OUTPUT_NUM_CHANNELS = 1

_INT16_MAX = 32767.0


def _to_float(samples: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / _INT16_MAX
    return samples.astype(np.float32, copy=False)


def _to_pcm_bytes(audio: npt.NDArray[np.float32]) -> bytes:
    # the resampler can overshoot full scale by a little on a normalised input
    pcm = np.clip(audio * _INT16_MAX, -_INT16_MAX, _INT16_MAX).astype(np.int16)
    return bytes(pcm.tobytes())  # little-endian on every platform LiveKit ships for


def to_output_pcm(samples: npt.NDArray[np.generic], sample_rate: float) -> bytes:
    """Return mono ``samples`` as 48 kHz signed 16-bit little-endian PCM bytes.

    ``samples`` is int16 (full scale 32767) or float (full scale 1.0). ``sample_rate`` may be
    fractional: a voice played at a shifted rate changes its pitch, which is how the Piper
    voice variants are made.
    """
    audio = _to_float(samples)
    if audio.size == 0:
        return b""
    if sample_rate != OUTPUT_SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, OUTPUT_SAMPLE_RATE, quality="HQ")
    return _to_pcm_bytes(audio)


class OutputResampler:
    """:func:`to_output_pcm` for audio that arrives in pieces: the same resampler, with its
    state carried from piece to piece (so the joins are seamless); :meth:`end` returns what
    it still holds."""

    def __init__(self, sample_rate: float) -> None:
        self._stream = (
            soxr.ResampleStream(sample_rate, OUTPUT_SAMPLE_RATE, 1, dtype="float32", quality="HQ")
            if sample_rate != OUTPUT_SAMPLE_RATE
            else None
        )

    def push(self, samples: npt.NDArray[np.generic]) -> bytes:
        audio = _to_float(samples)
        if self._stream is not None:
            audio = self._stream.resample_chunk(audio)
        return _to_pcm_bytes(audio) if audio.size else b""

    def end(self) -> bytes:
        if self._stream is None:
            return b""
        audio = self._stream.resample_chunk(np.zeros(0, np.float32), last=True)
        return _to_pcm_bytes(audio) if audio.size else b""


def wav_header(data: bytes) -> tuple[int, int, int] | None:
    """The sample rate of a 16-bit PCM mono WAV, where its audio starts in ``data`` and the
    byte size its ``data`` chunk claims; ``None`` while ``data`` does not reach the audio yet.
    Raises ``ValueError`` when ``data`` is no such WAV."""
    if len(data) >= 12 and (data[:4] != b"RIFF" or data[8:12] != b"WAVE"):
        raise ValueError("not a RIFF/WAVE stream")
    pos = 12
    sample_rate = 0
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            if len(data) < body + 16:
                return None
            fmt, channels, sample_rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if fmt != 1 or channels != 1 or bits != 16:
                raise ValueError(f"unsupported WAV format {fmt}/{channels} ch/{bits} bit")
        elif chunk_id == b"data":
            if not sample_rate:
                raise ValueError("WAV data chunk before its fmt chunk")
            return sample_rate, body, size
        pos = body + size + (size % 2)
    return None


def parse_wav(data: bytes) -> tuple[npt.NDArray[np.int16], int]:
    """Decode a 16-bit PCM mono WAV into samples and their sample rate.

    Tolerates the placeholder chunk sizes that espeak-ng writes when it streams to stdout
    (the ``data`` size says 2 GiB): everything after the ``data`` header is audio.
    Raises ``ValueError`` on anything else.
    """
    header = wav_header(data)
    if header is None:
        if len(data) < 12:
            raise ValueError("not a RIFF/WAVE stream")
        raise ValueError("WAV stream has no data chunk")
    sample_rate, body, size = header
    end = min(len(data), body + size)
    end -= (end - body) % 2
    return np.frombuffer(data[body:end], dtype="<i2").astype(np.int16), sample_rate
