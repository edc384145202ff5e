"""Unit tests load no model: a test that does must say so (``@pytest.mark.model``), so the
fast suite (``make unit``: no server, no model) stays fast and model-free by construction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_models_unless_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if request.node.get_closest_marker("model") is not None:
        yield
        return
    import faster_whisper
    import onnxruntime

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError(
            "this unit test loads a real model (Whisper, Silero or Piper): use the fakes in "
            "interpreter.testing.fakes, or mark it @pytest.mark.model"
        )

    monkeypatch.setattr(faster_whisper.WhisperModel, "__init__", refuse)
    monkeypatch.setattr(onnxruntime.InferenceSession, "__init__", refuse)
    yield
