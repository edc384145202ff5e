"""Every use of faster-whisper internals, in one place.

:class:`~interpreter.providers.whisper_model.WhisperDecoder` encodes, identifies the language
and decodes with the CTranslate2 model directly (to encode only the utterance instead of a
30 s window), which needs parts of faster-whisper that are not its public API (that is
``WhisperModel.transcribe``/``detect_language`` and the names in ``faster_whisper.__all__``):
the model's attributes ``feature_extractor``, ``model`` (the ``ctranslate2.models.Whisper``),
``hf_tokenizer``, ``max_length`` and method ``find_alignment``; ``faster_whisper.tokenizer``'s
``Tokenizer`` and ``_LANGUAGE_CODES``; ``faster_whisper.transcribe``'s
``get_compression_ratio``, ``get_suppressed_tokens`` and ``merge_punctuations``.

Read from faster-whisper 1.2.1 (:data:`READ_FROM`). ``tests/unit/test_faster_whisper_private.py``
fails when the installed release differs in major.minor or a name below is gone; re-read the
uses against the new release before moving the pin.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

__all__ = [
    "CLASS_ATTRIBUTES",
    "MODEL_ATTRIBUTES",
    "MODULE_ATTRIBUTES",
    "READ_FROM",
    "compression_ratio",
    "ctranslate2_model",
    "language_codes",
    "log_mel",
    "max_length",
    "missing",
    "suppressed_tokens",
    "tokenizer",
    "word_alignment",
]

READ_FROM = "1.2.1"
"""The faster-whisper release these uses were read from."""

MODULE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("faster_whisper.tokenizer", "_LANGUAGE_CODES"),
    ("faster_whisper.tokenizer", "Tokenizer"),
    ("faster_whisper.transcribe", "get_compression_ratio"),
    ("faster_whisper.transcribe", "get_suppressed_tokens"),
    ("faster_whisper.transcribe", "merge_punctuations"),
    ("faster_whisper.transcribe", "WhisperModel"),
    ("faster_whisper.feature_extractor", "FeatureExtractor"),
)
"""(module, name) pairs used here."""

CLASS_ATTRIBUTES: tuple[tuple[str, str, str], ...] = (
    ("faster_whisper.transcribe", "WhisperModel", "find_alignment"),
    ("faster_whisper.tokenizer", "Tokenizer", "sot_sequence"),
    ("faster_whisper.tokenizer", "Tokenizer", "sot_prev"),
    ("faster_whisper.tokenizer", "Tokenizer", "encode"),
    ("faster_whisper.tokenizer", "Tokenizer", "no_timestamps"),
    ("faster_whisper.tokenizer", "Tokenizer", "eot"),
    ("faster_whisper.tokenizer", "Tokenizer", "decode"),
)
"""(module, class, attribute) triples used here."""

MODEL_ATTRIBUTES = ("feature_extractor", "model", "hf_tokenizer", "max_length")
"""Attributes of a loaded ``WhisperModel`` used here (set by its constructor)."""


def missing(model: WhisperModel | None = None) -> list[str]:
    """The names used here that the installed faster-whisper lacks (empty: all there).

    With ``model``, its instance attributes are checked too.
    """
    gone: list[str] = []
    for module_name, name in MODULE_ATTRIBUTES:
        if not hasattr(importlib.import_module(module_name), name):
            gone.append(f"{module_name}.{name}")
    for module_name, class_name, name in CLASS_ATTRIBUTES:
        cls = getattr(importlib.import_module(module_name), class_name, None)
        if cls is None or not hasattr(cls, name):
            gone.append(f"{module_name}.{class_name}.{name}")
    from faster_whisper.feature_extractor import FeatureExtractor

    if not hasattr(FeatureExtractor(), "nb_max_frames"):
        gone.append("faster_whisper.feature_extractor.FeatureExtractor().nb_max_frames")
    if model is not None:
        gone += [f"WhisperModel().{n}" for n in MODEL_ATTRIBUTES if not hasattr(model, n)]
    return gone


def language_codes() -> frozenset[str]:
    """Every language code Whisper has a token for."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(str(code) for code in _LANGUAGE_CODES)


def log_mel(model: WhisperModel, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Whisper's log-mel features of ``audio`` (no extra padding), at most one window."""
    fe = model.feature_extractor
    features: npt.NDArray[np.float32] = fe(audio, padding=0)
    return features[:, : fe.nb_max_frames]


def ctranslate2_model(model: WhisperModel) -> ctranslate2.models.Whisper:
    """The CTranslate2 Whisper inside ``model`` (``encode``/``detect_language``/``generate``)."""
    return model.model


def max_length(model: WhisperModel) -> int:
    """The decoder's context length in tokens."""
    return int(model.max_length)


def tokenizer(model: WhisperModel, language: str) -> Tokenizer:
    """A multilingual transcription tokenizer for Whisper code ``language``."""
    from faster_whisper.tokenizer import Tokenizer

    return Tokenizer(model.hf_tokenizer, True, task="transcribe", language=language)


def suppressed_tokens(tok: Tokenizer) -> list[int]:
    """The tokens Whisper suppresses by default (``suppress_tokens=[-1]``)."""
    from faster_whisper.transcribe import get_suppressed_tokens

    return list(get_suppressed_tokens(tok, (-1,)) or ())


def compression_ratio(text: str) -> float:
    """gzip compression ratio of ``text`` (high: a repetition loop)."""
    from faster_whisper.transcribe import get_compression_ratio

    return float(get_compression_ratio(text))


def word_alignment(
    model: WhisperModel,
    tok: Tokenizer,
    tokens: Sequence[int],
    encoder_output: ctranslate2.StorageView,
    num_frames: int,
    *,
    prepend: str,
    append: str,
) -> list[dict[str, Any]]:
    """Word timings of ``tokens`` (dicts with ``word``, ``start``, ``end``, ``probability``),
    punctuation merged into the neighbouring words."""
    from faster_whisper.transcribe import merge_punctuations

    alignment: list[dict[str, Any]] = model.find_alignment(
        tok, [list(tokens)], encoder_output, num_frames
    )[0]
    merge_punctuations(alignment, prepend, append)
    return alignment
