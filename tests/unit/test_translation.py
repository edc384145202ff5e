"""Apertium engine (real Debian pairs, persistent pipelines) and the translation router."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import pytest

from interpreter.errors import ProviderError, UnsupportedLanguageError
from interpreter.testing.fakes import FakeTranslation
from interpreter.translation import (
    ApertiumEngine,
    TranslationEngine,
    TranslationRouter,
    discover_apertium_modes,
)
from interpreter.translation.engine import Translation, TranslationRequest
from languages import Language

EN, ES, FR, CA, DE = (Language(c) for c in ("en", "es", "fr", "ca", "de"))


@pytest.fixture(scope="module")
async def apertium() -> AsyncIterator[ApertiumEngine]:
    engine = ApertiumEngine()
    yield engine
    await engine.aclose()


# --- discovery -----------------------------------------------------------------------------


def test_discovers_the_installed_debian_pairs() -> None:
    modes = discover_apertium_modes()
    for pair in [(EN, ES), (ES, EN), (ES, FR), (FR, ES), (ES, Language("pt")), (EN, CA)]:
        assert pair in modes, f"apertium pair {pair} is not installed"
    assert modes[(EN, ES)] == "eng-spa"


def test_discovery_maps_mode_names_to_language_tags(tmp_path: Path) -> None:
    modes = tmp_path / "modes"
    modes.mkdir()
    for name in ["eng-spa", "es-pt_BR", "eng-cat_valencia", "eco-es-fr", "spa-ast", "README"]:
        (modes / f"{name}.mode").write_text("cat\n")
    found = discover_apertium_modes(tmp_path)
    assert found == {(EN, ES): "eng-spa", (ES, Language("pt-BR")): "es-pt_BR"}


def test_no_apertium_data_means_no_pairs(tmp_path: Path) -> None:
    assert ApertiumEngine(datadir=tmp_path).pairs() == frozenset()


# --- translation ---------------------------------------------------------------------------


async def test_translates_english_to_spanish(apertium: ApertiumEngine) -> None:
    out = await apertium.translate("The house is big.", source=EN, target=ES)
    assert out == "La casa es grande."


async def test_keeps_the_sentence_end_as_given(apertium: ApertiumEngine) -> None:
    assert await apertium.translate("The cats", source=EN, target=ES) == "Los gatos"
    assert (await apertium.translate("Is it big?", source=EN, target=ES)).endswith("?")


async def test_unknown_words_come_out_unmarked(apertium: ApertiumEngine) -> None:
    out = await apertium.translate("Zorblax met Anna in Paris.", source=EN, target=ES)
    assert "Zorblax" in out and "París" in out
    assert "*" not in out and "#" not in out and "@" not in out


async def test_reserved_characters_survive(apertium: ApertiumEngine) -> None:
    out = await apertium.translate(
        "The price is $5 [net] for 5/6, 3*4 #tag @me ~x <b>", source=EN, target=ES
    )
    for literal in ["$5", "[", "]", "5/6", "3*4", "#", "@me", "~x", "<b>"]:
        assert literal in out, literal


async def test_multiline_text_keeps_its_lines(apertium: ApertiumEngine) -> None:
    out = await apertium.translate("Line one\nLine two", source=EN, target=ES)
    assert out.split("\n") == ["Línea una", "Línea dos"]


async def test_one_pipeline_serves_many_calls(apertium: ApertiumEngine) -> None:
    await apertium.translate("Good morning.", source=EN, target=ES)
    pids = {p._proc.pid for p in apertium._pipelines if p._proc is not None}
    for i in range(20):
        await apertium.translate(f"I have {i} cats.", source=EN, target=ES)
    assert {p._proc.pid for p in apertium._pipelines if p._proc is not None} >= pids
    assert len(apertium._pipelines) == 1


async def test_concurrent_calls_get_their_own_answers(apertium: ApertiumEngine) -> None:
    sentences = [f"I have {n} dogs." for n in range(12)]
    outputs = await asyncio.gather(
        *(apertium.translate(s, source=EN, target=ES) for s in sentences)
    )
    assert outputs == [f"Tengo {n} perros." for n in range(12)]


async def test_a_dead_pipeline_is_restarted() -> None:
    engine = ApertiumEngine(processes_per_pair=2)
    try:
        await engine.translate("Good morning.", source=EN, target=ES)
        for pipeline in engine._pipelines:
            if pipeline._proc is not None:
                os.killpg(pipeline._proc.pid, signal.SIGKILL)
                await pipeline._proc.wait()
        out = await engine.translate("The house is big.", source=EN, target=ES)
        assert out == "La casa es grande."
    finally:
        await engine.aclose()


async def test_unsupported_pair_names_the_alternatives(apertium: ApertiumEngine) -> None:
    with pytest.raises(UnsupportedLanguageError) as info:
        await apertium.translate("Hello", source=EN, target=DE)
    assert ES in info.value.alternatives and CA in info.value.alternatives
    assert "German" in str(info.value)


async def test_empty_text_is_refused(apertium: ApertiumEngine) -> None:
    with pytest.raises(ValueError):
        await apertium.translate("  ", source=EN, target=ES)


# --- glossary ------------------------------------------------------------------------------


async def test_glossary_replaces_the_default_translation(apertium: ApertiumEngine) -> None:
    text = "The speaker is late."
    assert "altavoz" in await apertium.translate(text, source=EN, target=ES)
    out = await apertium.translate(text, source=EN, target=ES, glossary={"speaker": "ponente"})
    assert out == "El ponente es tarde."


async def test_glossary_term_is_protected_when_its_default_is_not_found(
    apertium: ApertiumEngine,
) -> None:
    # "run" alone is "carrera", in the sentence "corremos": the term is protected instead.
    out = await apertium.translate(
        "We run the meeting every week.", source=EN, target=ES, glossary={"run": "dirigimos"}
    )
    assert "dirigimos" in out
    assert "corremos" not in out.lower()


async def test_multiword_glossary_terms(apertium: ApertiumEngine) -> None:
    out = await apertium.translate(
        "Open the meeting room please.",
        source=EN,
        target=ES,
        glossary={"meeting room": "sala de juntas", "absent term": "nada"},
    )
    assert "sala de juntas" in out
    assert "reuniones" not in out and "nada" not in out


# --- router over fakes ---------------------------------------------------------------------


class FakeEngine(TranslationEngine):
    """Tags its output with its name; ``fail`` makes every call raise a ProviderError."""

    def __init__(self, name: str, pairs: Sequence[tuple[str, str]], *, fail: bool = False):
        super().__init__(name=name, pairs=((Language(s), Language(t)) for s, t in pairs))
        self.fail = fail
        self.calls: list[tuple[str, str, str, Mapping[str, str] | None]] = []

    async def _translate(self, request: TranslationRequest) -> str:
        text, source, target = request.text, request.source, request.target
        self.check_pair(source, target)
        self.calls.append((text, source, target, request.glossary))
        if self.fail:
            raise ProviderError(f"{self._name} is down", retryable=True)
        return f"{text} |{self._name}:{source}>{target}"


async def test_router_uses_the_best_measured_engine() -> None:
    a = FakeEngine("a", [("en", "es")])
    b = FakeEngine("b", [("en", "es")])
    router = TranslationRouter(engines=[a, b], quality={"a": {"en-es": 40.0}, "b": {"en-es": 55}})
    assert await router.translate("hi", source=EN, target=ES) == "hi |b:en>es"


async def test_router_tries_the_preferred_engine_first_and_falls_back() -> None:
    cloud = FakeEngine("cloud", [("en", "es")])
    local = FakeEngine("local", [("en", "es")])
    router = TranslationRouter(engines=[local], preferred=cloud)
    assert await router.translate("hi", source=EN, target=ES) == "hi |cloud:en>es"
    cloud.fail = True
    assert await router.translate("hi", source=EN, target=ES) == "hi |local:en>es"


async def test_router_raises_the_last_error_when_every_route_fails() -> None:
    router = TranslationRouter(engines=[FakeEngine("a", [("en", "es")], fail=True)])
    with pytest.raises(ProviderError):
        await router.translate("hi", source=EN, target=ES)


async def test_router_pivots_when_there_is_no_direct_pair() -> None:
    engine = FakeEngine("ap", [("en", "es"), ("es", "fr")])
    router = TranslationRouter(engines=[engine])
    assert (EN, FR) in router.supported_pairs()
    out = await router.translate("hi", source=EN, target=FR, glossary={"booth": "cabine"})
    assert out == "hi |ap:en>es |ap:es>fr"
    # The first step applies the glossary; the second keeps its target terms unchanged.
    assert engine.calls[0][3] == {"booth": "cabine"}
    assert engine.calls[1][3] == {"cabine": "cabine"}


async def test_router_prefers_a_measured_pivot_over_a_worse_direct_route() -> None:
    weak = FakeEngine("weak", [("ca", "en")])
    good = FakeEngine("good", [("ca", "es"), ("es", "en")])
    quality = {"weak": {"ca-en": 51.8}, "good>es>good": {"ca-en": 55.7}}
    router = TranslationRouter(engines=[weak, good], quality=quality)
    assert [r.name for r in router.routes("ca", "en")] == ["good>es>good", "weak"]


async def test_router_unsupported_pair_lists_the_targets_for_the_source() -> None:
    router = TranslationRouter(engines=[FakeEngine("ap", [("en", "es"), ("es", "fr")])])
    with pytest.raises(UnsupportedLanguageError) as info:
        await router.translate("hi", source=EN, target=DE)
    assert set(info.value.alternatives) == {ES, FR}


async def test_router_serves_regional_variants() -> None:
    router = TranslationRouter(engines=[FakeEngine("ap", [("en", "es")])])
    out = await router.translate("hi", source=Language("en-GB"), target=Language("es-MX"))
    assert out == "hi |ap:en-GB>es-MX"


# --- router over real Apertium -------------------------------------------------------------


async def test_apertium_pivot_english_to_french(apertium: ApertiumEngine) -> None:
    router = TranslationRouter(engines=[apertium])
    assert router.routes("en", "fr")[0].name == "apertium>es>apertium"
    out = await router.translate("The house is big.", source=EN, target=FR)
    assert out == "La maison est grande."
    back = await router.translate("La maison est grande.", source=FR, target=EN)
    assert back == "The house is big."


async def test_default_table_ranks_the_pivot_for_catalan_to_english(
    apertium: ApertiumEngine,
) -> None:
    router = TranslationRouter(engines=[apertium])
    assert router.routes("ca", "en")[0].name == "apertium>es>apertium"
    assert router.routes("en", "es")[0].name == "apertium"


# --- which engine answered, and the deadline -------------------------------------------------


def _hello(source: Language, target: Language) -> TranslationRequest:
    return TranslationRequest(text="hello", source=source, target=target)


async def test_the_router_names_the_route_that_answered() -> None:
    a = FakeEngine("a", [("en", "es"), ("es", "fr")])
    llm = FakeEngine("llm", [("en", "es")], fail=True)
    router = TranslationRouter(engines=[a], preferred=llm, quality={})
    out = await router.translate_request(_hello(EN, ES))
    assert out.engine == "a"  # the LLM failed; not "router"
    pivot = await router.translate_request(_hello(EN, FR))
    assert pivot.engine == "a>es>a"
    direct = await a.translate_request(_hello(EN, ES))
    assert direct.engine == "a" and direct.text == await a.translate("hello", source=EN, target=ES)


async def test_a_preferred_engine_that_runs_out_of_time_leaves_the_fallback_room() -> None:
    slow = FakeTranslation(name="llm", languages=("en", "es"), delay=60.0)
    fast = FakeTranslation(name="apertium", languages=("en", "es"))
    router = TranslationRouter(engines=[fast], preferred=slow, quality={}, fallback_reserve=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    out = await router.translate_request(_hello(EN, ES), within=0.3)
    assert out == Translation(text="[es] hello", engine="apertium")
    assert loop.time() - started < 0.3
    assert slow.calls


async def test_a_deadline_no_route_meets_is_a_retryable_provider_error() -> None:
    slow = FakeTranslation(name="slow", languages=("en", "es"), delay=60.0)
    router = TranslationRouter(engines=[slow], quality={})
    with pytest.raises(ProviderError) as e:
        await router.translate_request(_hello(EN, ES), within=0.05)
    assert e.value.retryable
    with pytest.raises(ProviderError):
        await slow.translate_request(_hello(EN, ES), within=0.05)
