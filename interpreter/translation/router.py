"""Pick the best available translation route per language pair, and fall back when it fails.

A route is one engine (direct) or a chain of up to three engines through pivot languages
(``en -> es -> fr`` with Apertium, which has no English-French pair; ``en -> pt -> es -> fr``
with the neural English->Portuguese model, then Apertium). Routes are ranked:

1. the *preferred* engine (the configured LLM, the real quality path) when it serves the pair;
2. every other route by its measured chrF (:data:`MEASURED_CHRF`: the mean of UDHR paragraphs
   and the meeting-style sentences of ``bench/data/meeting_mt.json``, written to
   ``route_quality.json`` by ``python -m bench.mt``). Routes within :data:`TIE_CHRF` of the best
   remaining one are a tie, which the faster goes first (:data:`MEASURED_MS`, per sentence);
   routes within :data:`SPEED_TIE` times (or 1 ms of) the fastest count as equally fast, and the
   higher chrF goes first among them. Unmeasured routes come after measured ones, shorter
   chains first.

A route that fails with :class:`~interpreter.errors.ProviderError` hands over to the next one,
so a failing cloud LLM falls back to the offline engines instead of going silent. A route of
several legs has its output's surface repaired against the source
(:func:`~interpreter.translation.surface.restore_surface`): a leg may drop a question mark,
lower-case a sentence start or a name.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from interpreter import metrics
from interpreter.errors import ProviderError, UnsupportedLanguageError
from interpreter.providers.failover import failure_reason
from interpreter.translation.engine import (
    Pair,
    Translation,
    TranslationEngine,
    TranslationRequest,
)
from interpreter.translation.surface import restore_surface
from languages import Capabilities, Language, covers, normalize_language, primary

__all__ = [
    "FALLBACK_RESERVE",
    "MEASURED_CHRF",
    "MEASURED_MS",
    "QUALITY_FILE",
    "SPEED_TIE",
    "TIE_CHRF",
    "Route",
    "TranslationRouter",
    "load_quality",
]

logger = logging.getLogger("interpreter.translation.router")

QUALITY_FILE = Path(__file__).with_name("route_quality.json")
"""Measured quality and latency per route and pair, written by ``python -m bench.mt``."""

SPEED_TIE = 1.5
"""Latency ratio within which two routes count as equally fast. Per-unit means of one model
vary by up to 25 % from route to route on a shared machine (gl->en, raw 14.1 ms against 11.4 ms
for the same model with post-editing on top); Apertium (1-3 ms) against a neural route
(10-15 ms) is a real difference."""

TIE_CHRF = 1.0
"""chrF points within which two routes count as equally good (the faster one wins): below
the differences that the ~60 UDHR paragraphs and ~40 meeting sentences can tell apart."""


def load_quality(
    path: Path = QUALITY_FILE,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """chrF and milliseconds per sentence, per route name and ``"<source>-<target>"`` pair,
    from the file ``python -m bench.mt`` writes (empty tables when it is missing)."""
    if not path.is_file():
        return {}, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    chrf: dict[str, dict[str, float]] = {}
    ms: dict[str, dict[str, float]] = {}
    for route, pairs in data["routes"].items():
        for pair, row in pairs.items():
            chrf.setdefault(route, {})[pair] = float(row["chrf"])
            if row.get("ms") is not None:
                ms.setdefault(route, {})[pair] = float(row["ms"])
    return chrf, ms


MEASURED_CHRF, MEASURED_MS = load_quality()
"""chrF (0-100) and ms per sentence, per route name and pair (see :func:`load_quality`)."""

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


def _lookup(table: Mapping[str, Mapping[str, float]], route: Route) -> float | None:
    rows = table.get(route.name)
    if rows is None:
        return None
    exact = rows.get(_key(route.pair))
    if exact is not None:
        return exact
    return rows.get(f"{primary(route.pair[0])}-{primary(route.pair[1])}")


class TranslationRouter(TranslationEngine):
    """A :class:`TranslationEngine` over several engines: the best route per pair.

    Args:
        engines: the available engines (Apertium, local models), in order of preference
            among equally measured routes.
        preferred: an engine tried first for every pair it serves (the configured LLM).
        quality: chrF per route name and pair (default :data:`MEASURED_CHRF`).
        latency: ms per sentence per route name and pair, which breaks ties (default
            :data:`MEASURED_MS` when ``quality`` is the default too, else none).
        pivots: languages a route may go through.
        max_legs: engines a route may chain (1 = direct only).
        repair: repair the surface of a multi-leg route's output (see the module docstring).
        fallback_reserve: seconds of a deadline kept for later routes (see
            :meth:`translate_request`).
    """

    def __init__(
        self,
        *,
        engines: Sequence[TranslationEngine],
        preferred: TranslationEngine | None = None,
        quality: Mapping[str, Mapping[str, float]] | None = None,
        latency: Mapping[str, Mapping[str, float]] | None = None,
        pivots: Iterable[str] = ("es", "en", "pt"),
        max_legs: int = 3,
        repair: bool = True,
        fallback_reserve: float = FALLBACK_RESERVE,
    ) -> None:
        if max_legs < 1:
            raise ValueError("max_legs must be at least 1")
        self._engines = tuple(engines)
        self._preferred = preferred
        self._quality = MEASURED_CHRF if quality is None else quality
        if latency is None:
            latency = MEASURED_MS if quality is None else {}
        self._latency = latency
        self._pivots = tuple(normalize_language(p) for p in pivots)
        self._max_legs = max_legs
        self._repair = repair
        self._reserve = fallback_reserve
        self._routes: dict[Pair, tuple[Route, ...]] = {}
        super().__init__(name="router", pairs=self._all_pairs())

    def supported_pairs(self) -> frozenset[Pair]:
        """Every pair some route serves, direct or through pivots."""
        return self._pairs

    def _all_pairs(self) -> frozenset[Pair]:
        found: set[Pair] = set()
        if self._preferred is not None:
            found |= self._preferred.pairs()
        sources = {s for e in self._engines for s, _ in e.pairs()}
        for src in sources:
            for chain in self._chains(src):
                found.add((src, chain[-1][1]))
        return frozenset(found)

    def _chains(self, source: Language) -> list[tuple[tuple[TranslationEngine, Language], ...]]:
        """Every chain of engines from ``source``: direct steps to any language, then only
        through pivots, never back to a language already visited."""
        chains: list[tuple[tuple[TranslationEngine, Language], ...]] = []
        frontier: list[tuple[tuple[TranslationEngine, Language], ...]] = [()]
        for _ in range(self._max_legs):
            grown: list[tuple[tuple[TranslationEngine, Language], ...]] = []
            for chain in frontier:
                at = chain[-1][1] if chain else source
                if chain and primary(at) not in self._pivots:
                    continue
                seen = {primary(source)} | {primary(lang) for _, lang in chain}
                for engine in self._engines:
                    for s, t in sorted(engine.pairs()):
                        if s != at or primary(t) in seen:
                            continue
                        grown.append((*chain, (engine, t)))
            chains += grown
            frontier = grown
        return chains

    def score(self, route: Route) -> float | None:
        """The measured chrF of ``route`` for its pair (a regional variant such as ``en-US``
        takes its language's figure), or ``None`` when unmeasured."""
        return _lookup(self._quality, route)

    def speed(self, route: Route) -> float | None:
        """The measured milliseconds per sentence of ``route``, or ``None``."""
        return _lookup(self._latency, route)

    def _ms(self, route: Route) -> float:
        """Measured ms per sentence; unmeasured routes count as slowest."""
        ms = self.speed(route)
        return float("inf") if ms is None else ms

    def routes(self, source: str, target: str) -> tuple[Route, ...]:
        """The routes for ``source`` -> ``target``, best first (empty when none)."""
        pair = (normalize_language(source), normalize_language(target))
        cached = self._routes.get(pair)
        if cached is None:
            cached = self._rank(pair)
            self._routes[pair] = cached
        return cached

    def _candidates(self, pair: Pair) -> list[Route]:
        """Every chain of engines serving ``pair`` (its languages or variants they cover), one
        per route name: a chain ending exactly in the target language before one covering
        it."""
        src, tgt = pair
        starts = sorted({s for e in self._engines for s, _ in e.pairs() if covers(s, src)})
        chains = [chain for start in starts for chain in self._chains(start)]
        chains = [chain for chain in chains if covers(chain[-1][1], tgt)]
        chains.sort(key=lambda chain: chain[-1][1] != tgt)
        found: dict[str, Route] = {}
        for chain in chains:
            languages = tuple(lang for _, lang in chain)
            route = Route(
                pair=pair, engines=tuple(engine for engine, _ in chain), via=languages[:-1]
            )
            found.setdefault(route.name, route)
        return list(found.values())

    def _rank(self, pair: Pair) -> tuple[Route, ...]:
        src, tgt = pair
        candidates = self._candidates(pair)
        order = {id(route): index for index, route in enumerate(candidates)}
        measured = [r for r in candidates if self.score(r) is not None]
        unmeasured = [r for r in candidates if self.score(r) is None]
        ranked: list[Route] = []
        # best first; among routes within TIE_CHRF of the best remaining one, the fastest
        remaining = sorted(measured, key=lambda r: (-(self.score(r) or 0.0), order[id(r)]))
        while remaining:
            top = self.score(remaining[0]) or 0.0
            tied = [r for r in remaining if top - (self.score(r) or 0.0) < TIE_CHRF]
            quickest = min(self._ms(r) for r in tied)
            quick = [r for r in tied if self._ms(r) <= max(quickest * SPEED_TIE, quickest + 1.0)]
            fastest = min(quick, key=lambda r: (-(self.score(r) or 0.0), order[id(r)]))
            ranked.append(fastest)
            remaining.remove(fastest)
        ranked += sorted(unmeasured, key=lambda r: (len(r.engines), order[id(r)]))
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
                metrics.PROVIDER_SERVED.labels("translation", route.name, tgt).inc()
                return Translation(text=out, engine=route.name)
            except TimeoutError as e:
                last = ProviderError(f"route {route.name} timed out", retryable=True)
                last.__cause__ = e
            except ProviderError as e:
                last = e
            reason = failure_reason(last)
            metrics.PROVIDER_FALLBACKS.labels("translation", route.name, reason).inc()
            # a resting engine was not asked; its failure was logged when it happened
            logger.log(
                logging.DEBUG if reason == "resting" else logging.WARNING,
                "translation route failed, trying the next one",
                extra={
                    "route": route.name,
                    "pair": _key(route.pair),
                    "reason": reason,
                    "error": last.message,
                },
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
        if self._repair and len(route.engines) > 1:
            out = restore_surface(request.text, out, target=route.pair[1])
        return out

    async def aclose(self) -> None:
        """Close every engine the router was given."""
        if self._preferred is not None:
            await self._preferred.aclose()
        for engine in self._engines:
            await engine.aclose()
