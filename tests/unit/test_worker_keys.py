"""The worker says once that development keys are in use, instead of a warning per token."""

from __future__ import annotations

import logging
import warnings

import pytest
from livekit import api

from interpreter.config import load_settings
from interpreter.worker import announce_dev_keys


def _sign() -> None:
    api.AccessToken("devkey", "secret").with_identity("x").to_jwt()


def test_development_keys_are_announced_once_and_tokens_sign_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _sign()
        assert caught, "PyJWT no longer warns about the short development secret"
        caught.clear()
        with caplog.at_level(logging.WARNING, logger="interpreter.worker"):
            announce_dev_keys(load_settings(livekit_api_key="devkey", livekit_api_secret="secret"))
        for _ in range(3):
            _sign()
        assert caught == []
    notices = [r for r in caplog.records if "development keys in use" in r.getMessage()]
    assert len(notices) == 1


def test_real_keys_are_not_announced(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(livekit_api_key="prod", livekit_api_secret="s" * 40)
    with caplog.at_level(logging.WARNING, logger="interpreter.worker"):
        announce_dev_keys(settings)
    assert not [r for r in caplog.records if "development keys" in r.getMessage()]
