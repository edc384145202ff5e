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

__all__ = ["OUTPUT_NUM_CHANNELS", "OUTPUT_SAMPLE_RATE", "parse_wav", "to_output_pcm"]

OUTPUT_SAMPLE_RATE = 48000
"""Sample rate of every offline TTS output (what an ``rtc.AudioSource(48000, 1)`` takes)."""

OUTPUT_NUM_CHANNELS = 1

_INT16_MAX = 32767.0


def to_output_pcm(samples: npt.NDArray[np.generic], sample_rate: float) -> bytes:
    """Return mono ``samples`` as 48 kHz signed 16-bit little-endian PCM bytes.

    ``samples`` is int16 (full scale 32767) or float (full scale 1.0). ``sample_rate`` may be
    fractional: a voice played at a shifted rate changes its pitch, which is how the Piper
    voice variants are made.
    """
    if samples.dtype == np.int16:
        audio = samples.astype(np.float32) / _INT16_MAX
    else:
        audio = samples.astype(np.float32, copy=False)
    if audio.size == 0:
        return b""
    if sample_rate != OUTPUT_SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, OUTPUT_SAMPLE_RATE, quality="HQ")
    # the resampler can overshoot full scale by a little on a normalised input
    pcm = np.clip(audio * _INT16_MAX, -_INT16_MAX, _INT16_MAX).astype(np.int16)
    return bytes(pcm.tobytes())  # little-endian on every platform LiveKit ships for


def parse_wav(data: bytes) -> tuple[npt.NDArray[np.int16], int]:
    """Decode a 16-bit PCM mono WAV into samples and their sample rate.

    Tolerates the placeholder chunk sizes that espeak-ng writes when it streams to stdout
    (the ``data`` size says 2 GiB): everything after the ``data`` header is audio.
    Raises ``ValueError`` on anything else.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    pos = 12
    sample_rate = 0
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt, channels, sample_rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if fmt != 1 or channels != 1 or bits != 16:
                raise ValueError(f"unsupported WAV format {fmt}/{channels} ch/{bits} bit")
        elif chunk_id == b"data":
            if not sample_rate:
                raise ValueError("WAV data chunk before its fmt chunk")
            end = min(len(data), body + size)
            end -= (end - body) % 2
            return np.frombuffer(data[body:end], dtype="<i2").astype(np.int16), sample_rate
        pos = body + size + (size % 2)
    raise ValueError("WAV stream has no data chunk")
