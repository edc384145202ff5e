"""Fixtures for the browser tests: the web app on a free loopback port (in this process, next
to the test's room clients), and headless Chromium through playwright-core."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from captions.store import TranscriptStore, database_url
from interpreter.config import DEV_API_KEY, DEV_API_SECRET
from interpreter.testing.livekit import REPO, LiveKitFixture, free_port
from tests.browser.driver import Browser
from web.app import VENDOR_SCRIPT, WebConfig, build_app


def web_config(livekit_url: str) -> WebConfig:
    """The web app's configuration against a loopback server with the development keys."""
    return WebConfig(
        ws_url=livekit_url, api_key=DEV_API_KEY, api_secret=DEV_API_SECRET, dev_keys=True
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def npm_dir() -> Path:
    """The cached npm packages (livekit-client, playwright-core); fetched once if missing."""
    done = subprocess.run(
        [str(REPO / "scripts" / "fetch_web_assets.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    path = Path(done.stdout.strip().splitlines()[-1])
    assert (path / "node_modules" / "playwright-core").is_dir(), done.stderr
    assert VENDOR_SCRIPT.is_file()
    return path


@dataclass
class WebApp:
    url: str
    store: TranscriptStore | None = None


@pytest.fixture(scope="session")
async def web_app(
    livekit_server: LiveKitFixture, npm_dir: Path, output_dir: Path
) -> AsyncIterator[WebApp]:
    """The web app against the session's LiveKit server, sharing the worker's data directory
    (so the transcript panel lists what the translators stored)."""
    data_dir = output_dir / "worker-data"
    store = await TranscriptStore.open(database_url(db_url=None, data_dir=data_dir))
    app = build_app(web_config(livekit_server.url), transcript_store=store)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield WebApp(url=f"http://127.0.0.1:{port}/", store=store)
    finally:
        await runner.cleanup()
        await store.aclose()


@pytest.fixture(scope="session")
async def browser(npm_dir: Path, output_dir: Path) -> AsyncIterator[Browser]:
    driver = Browser(
        playwright_core=npm_dir / "node_modules" / "playwright-core",
        console_log=output_dir / "browser-console.log",
    )
    await driver.start()
    try:
        yield driver
    finally:
        await driver.aclose()
