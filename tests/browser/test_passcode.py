"""The join form of a room with a passcode: the page asks for it, says when it is wrong, and
joins with the right one."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from captions.store import TranscriptStore, database_url
from interpreter.testing.livekit import LiveKitFixture, free_port
from tests.browser.conftest import WebApp, web_config
from tests.browser.driver import Browser
from tests.browser.test_page import join, joined
from web.access_store import AccessStore
from web.app import build_app

_ERROR = (
    "!document.getElementById('join-error').hidden"
    " && document.getElementById('join-error').textContent"
)


async def test_the_page_asks_for_the_passcode_of_a_room_that_has_one(
    livekit_server: LiveKitFixture, browser: Browser, tmp_path: Path, npm_dir: Path
) -> None:
    store = await TranscriptStore.open(database_url(db_url=None, data_dir=tmp_path))
    access = AccessStore(store.engine)
    await access.create_schema()
    await access.set_passcode("board", "board-2026-q4")
    app = build_app(web_config(livekit_server.url), access_store=access)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    chromium = await browser.launch()
    page = await browser.new_page(chromium, "passcode")
    try:
        site = WebApp(url=f"http://127.0.0.1:{port}/")
        await join(page, site, room="lobby", name="Ana", language="es", role="listener")
        await joined(page)  # a room without a passcode: no question asked
        await page.click("#leave")
        assert await page.evaluate("document.getElementById('passcode-field').hidden")
        await join(page, site, room="board", name="Ana", language="es", role="listener")
        message = await page.wait_for(_ERROR, within=10, what="the passcode request")
        assert "needs a passcode" in message
        assert not await page.evaluate("document.getElementById('passcode-field').hidden")

        await page.fill("#passcode", "board-2025-q4")
        await page.click("#join")
        message = await page.wait_for(
            _ERROR + " && !document.getElementById('join').disabled"
            " && document.getElementById('join-error').textContent.includes('not right')"
            " && document.getElementById('join-error').textContent",
            within=10,
            what="the wrong-passcode message",
        )
        assert "not right" in message

        await page.fill("#passcode", "board-2026-q4")
        await page.click("#join")
        await joined(page)
    finally:
        await browser.call("closeBrowser", browser=chromium)
        await runner.cleanup()
        await store.aclose()
