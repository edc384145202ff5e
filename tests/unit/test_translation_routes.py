"""The router's routes: chains of up to three engines, ranked by the measured table (ties to the
faster route), the table file ``bench.mt`` writes, and the surface repair of pivot routes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from interpreter.errors import UnsupportedLanguageError
from interpreter.translation import (
    MEASURED_CHRF,
    ApertiumEngine,
    BergamotEngine,
    TranslationEngine,
    TranslationRequest,
    TranslationRouter,
)
from interpreter.translation.router import QUALITY_FILE, TIE_CHRF, load_quality
from languages import Language

EN, ES, FR, PT, DE = (Language(c) for c in ("en", "es", "fr", "pt", "de"))


class Leg(TranslationEngine):
    """Tags its output with its name; ``damage`` lower-cases the text and drops its marks."""

    def __init__(self, name: str, pairs: Sequence[tuple[str, str]], *, damage: bool = False):
        super().__init__(name=name, pairs=((Language(s), Language(t)) for s, t in pairs))
        self.damage = damage

    async def _translate(self, request: TranslationRequest) -> str:
        self.check_pair(request.source, request.target)
        if self.damage:
            return request.text.lower().rstrip("?.!")
        return f"{request.text} |{self._name}:{request.target}"


def test_three_legs_reach_a_pair_no_engine_serves_alone() -> None:
    neural = Leg("nn", [("en", "pt"), ("pt", "en")])
    rules = Leg("ap", [("pt", "es"), ("es", "pt"), ("es", "fr"), ("fr", "es")])
    router = TranslationRouter(engines=[rules, neural], quality={})
    assert (EN, FR) in router.supported_pairs() and (FR, EN) in router.supported_pairs()
    assert [r.name for r in router.routes("en", "fr")] == ["nn>pt>ap>es>ap"]
    assert [r.name for r in router.routes("fr", "en")] == ["ap>es>ap>pt>nn"]
    two_legs = TranslationRouter(engines=[rules, neural], quality={}, max_legs=2)
    assert (EN, FR) not in two_legs.supported_pairs()
    assert [r.name for r in two_legs.routes("en", "es")] == ["nn>pt>ap"]


async def test_a_three_leg_route_translates_through_each_leg() -> None:
    neural = Leg("nn", [("en", "pt")])
    rules = Leg("ap", [("pt", "es"), ("es", "fr")])
    router = TranslationRouter(engines=[rules, neural], quality={}, repair=False)
    out = await router.translate_request(TranslationRequest(text="hi", source=EN, target=FR))
    assert out.text == "hi |nn:pt |ap:es |ap:fr"
    assert out.engine == "nn>pt>ap>es>ap"


def test_a_route_never_visits_a_language_twice() -> None:
    engine = Leg("x", [("en", "es"), ("es", "en"), ("es", "pt"), ("pt", "es"), ("pt", "en")])
    router = TranslationRouter(engines=[engine], quality={})
    for route in router.routes("en", "pt"):
        languages = [route.pair[0], *route.via, route.pair[1]]
        assert len(set(languages)) == len(languages)


def test_the_best_measured_route_wins_and_a_tie_goes_to_the_faster() -> None:
    slow = Leg("slow", [("en", "es")])
    quick = Leg("quick", [("en", "es")])
    latency = {"slow": {"en-es": 30.0}, "quick": {"en-es": 2.0}}
    tie = {"slow": {"en-es": 60.0 + TIE_CHRF / 2}, "quick": {"en-es": 60.0}}
    router = TranslationRouter(engines=[slow, quick], quality=tie, latency=latency)
    assert [r.name for r in router.routes("en", "es")] == ["quick", "slow"]
    clear = {"slow": {"en-es": 60.0 + TIE_CHRF * 2}, "quick": {"en-es": 60.0}}
    router = TranslationRouter(engines=[slow, quick], quality=clear, latency=latency)
    assert [r.name for r in router.routes("en", "es")] == ["slow", "quick"]


def test_within_a_millisecond_the_better_score_breaks_the_tie() -> None:
    raw = Leg("raw", [("en", "pt")])
    edited = Leg("edited", [("en", "pt")])
    quality = {"raw": {"en-pt": 70.0}, "edited": {"en-pt": 70.4}}
    latency = {"raw": {"en-pt": 10.2}, "edited": {"en-pt": 9.9}}
    router = TranslationRouter(engines=[raw, edited], quality=quality, latency=latency)
    assert router.routes("en", "pt")[0].name == "edited"


def test_unmeasured_routes_come_last_shorter_first() -> None:
    direct = Leg("direct", [("en", "fr")])
    a = Leg("a", [("en", "es")])
    b = Leg("b", [("es", "fr")])
    router = TranslationRouter(engines=[a, b, direct], quality={"a>es>b": {"en-fr": 50.0}})
    assert [r.name for r in router.routes("en", "fr")] == ["a>es>b", "direct"]


async def test_a_pair_no_chain_reaches_is_a_clear_error() -> None:
    router = TranslationRouter(engines=[Leg("nn", [("en", "pt")]), Leg("ap", [("pt", "es")])])
    with pytest.raises(UnsupportedLanguageError) as info:
        await router.translate("hi", source=EN, target=DE)
    assert set(info.value.alternatives) == {PT, ES}


async def test_a_pivot_route_gets_its_surface_repaired_a_direct_one_does_not() -> None:
    first = Leg("nn", [("en", "pt")], damage=True)
    second = Leg("ap", [("pt", "es")], damage=True)
    router = TranslationRouter(engines=[first, second], quality={})
    out = await router.translate("Marie, is it ready?", source=EN, target=ES)
    assert out == "Marie, ¿is it ready?"
    direct = TranslationRouter(engines=[first], quality={})
    assert await direct.translate("Is it ready?", source=EN, target=PT) == "is it ready"


def test_the_table_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "route_quality.json"
    path.write_text(
        json.dumps(
            {
                "routes": {
                    "apertium": {"en-es": {"chrf": 54.4, "udhr": 54.3, "meeting": 54.5, "ms": 1.2}},
                    "x>pt>y": {"en-es": {"chrf": 63.0, "udhr": 64.0, "meeting": 62.0, "ms": None}},
                }
            }
        )
    )
    chrf, ms = load_quality(path)
    assert chrf == {"apertium": {"en-es": 54.4}, "x>pt>y": {"en-es": 63.0}}
    assert ms == {"apertium": {"en-es": 1.2}}
    assert load_quality(tmp_path / "missing.json") == ({}, {})


def test_the_shipped_table_covers_the_english_routes() -> None:
    assert QUALITY_FILE.is_file(), "python -m bench.mt writes the router's table"
    for pair in ("en-es", "es-en", "en-fr", "fr-en", "en-it", "it-en", "en-pt", "pt-en"):
        assert any(pair in pairs for pairs in MEASURED_CHRF.values()), pair


@pytest.fixture(scope="module")
async def embedded() -> AsyncIterator[TranslationRouter]:
    router = TranslationRouter(
        engines=[ApertiumEngine(), BergamotEngine(), BergamotEngine(post_edit=True)]
    )
    yield router
    await router.aclose()


@pytest.mark.model
async def test_the_measured_table_picks_the_neural_routes(embedded: TranslationRouter) -> None:
    assert embedded.routes("en", "es")[0].name.startswith("bergamot")
    assert embedded.routes("es", "en")[0].name.startswith("apertium>pt>bergamot")
    assert embedded.routes("en", "fr")[0].name.startswith("bergamot")
    assert embedded.routes("es", "fr")[0].name == "apertium"
    out = await embedded.translate("Do we have enough money for that?", source=EN, target=ES)
    assert out.startswith("¿") and out.endswith("?")


def test_a_regional_variant_is_ranked_by_its_languages_measurement() -> None:
    weak = Leg("weak", [("es", "en")])
    a = Leg("a", [("es", "pt")])
    b = Leg("b", [("pt", "en")])
    quality = {"weak": {"es-en": 55.0}, "a>pt>b": {"es-en": 67.0}}
    router = TranslationRouter(engines=[weak, a, b], quality=quality)
    assert router.routes("es", "en-US")[0].name == "a>pt>b"
    assert router.routes("es-MX", "en-GB")[0].name == "a>pt>b"
