"""The faster-whisper internals the Whisper decoder relies on are still where they were read."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from interpreter.providers import faster_whisper_private as fw
from interpreter.providers.whisper_model import load_whisper_model


def _major_minor(release: str) -> tuple[str, ...]:
    return tuple(release.split(".")[:2])


def test_installed_faster_whisper_is_the_release_the_private_uses_were_read_from() -> None:
    installed = version("faster-whisper")
    assert _major_minor(installed) == _major_minor(fw.READ_FROM), (
        f"faster-whisper {installed} is installed, but interpreter/providers/"
        f"faster_whisper_private.py was read from {fw.READ_FROM}: check every use there "
        "against the new release, then update READ_FROM"
    )


def test_the_private_names_used_still_exist() -> None:
    gone = fw.missing()
    assert gone == [], (
        f"faster-whisper {version('faster-whisper')} lacks {', '.join(gone)}, used by "
        "interpreter/providers/faster_whisper_private.py"
    )


def test_the_language_codes_include_the_common_languages() -> None:
    assert {"en", "es", "zh", "ja", "de"} <= fw.language_codes()
    assert fw.compression_ratio("ab" * 50) > fw.compression_ratio("the quick brown fox")


@pytest.mark.model
def test_a_loaded_model_has_the_private_attributes_used() -> None:
    model = load_whisper_model()
    gone = fw.missing(model)
    assert gone == [], f"the loaded WhisperModel lacks {', '.join(gone)}"
    assert fw.max_length(model) > 0
