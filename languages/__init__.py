"""BCP-47 language codes: normalisation, names, detection and provider capabilities.

``Language`` is the one language type of the project; :func:`normalize_language` is the one
place where codes and names from outside become ``Language`` values.
"""

from languages.capabilities import Capabilities, covers, merge, pairs_among
from languages.codes import (
    WHISPER_LANGUAGES,
    Language,
    alpha3,
    matches,
    normalize_language,
    primary,
    region_of,
    script_of,
    whisper_code,
)
from languages.detect import Detection, detect_language, detectable_languages, prewarm_detector
from languages.names import all_languages, english_name, native_name

__all__ = [
    "WHISPER_LANGUAGES",
    "Capabilities",
    "Detection",
    "Language",
    "all_languages",
    "alpha3",
    "covers",
    "detect_language",
    "detectable_languages",
    "english_name",
    "matches",
    "merge",
    "native_name",
    "normalize_language",
    "pairs_among",
    "prewarm_detector",
    "primary",
    "region_of",
    "script_of",
    "whisper_code",
]
