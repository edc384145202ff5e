"""The interpreter console in headless Chromium, against a real LiveKit server and the web app's
booth: what an invited interpreter sees and does (take, cough, hand over, request, direction),
what reaches a listener through the room, and the listener page's "Interpreted by" label.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from livekit import rtc

from interpreter.config import DEV_API_KEY, DEV_API_SECRET
from interpreter.testing.audio import piper_speech, resample, write_wav
from interpreter.testing.booth import (
    LoudTimeline,
    WebApp,
    invite,
    join_rule_listener,
    serving_web_app,
)
from interpreter.testing.clients import Speaker
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, wait_for
from interpreter.testing.speech import SPANISH, render
from tests.browser.conftest import WebApp as PageApp
from tests.browser.driver import Browser, Page
from tests.browser.test_page import READY, join, joined
from web.tokens import mint_token

CONSOLE_HOOK = Path(__file__).with_name("console_hook.mjs")
"""The tests' view into the console (the driver injects it after navigation, like
page_hook.mjs for the meeting page)."""


def speech_wav(tmp_path: Path) -> Path:
    """English speech for Chromium's fake microphone (looped)."""
    speech = piper_speech("Good morning. The budget for next year is ready for your review.")
    gap = np.zeros(8000, dtype=np.float32)
    wav = tmp_path / "interpreter.wav"
    write_wav(wav, resample(np.concatenate([speech, gap]), 16000, 48000), 48000)
    return wav


def mic_muted(room: rtc.Room, identity: str) -> bool | None:
    """Whether ``identity``'s microphone is muted, as ``room`` sees it (None: not published)."""
    mic = mic_of(room, identity)
    return None if mic is None else mic.muted


def mic_of(room: rtc.Room, identity: str) -> rtc.RemoteTrackPublication | None:
    p = room.remote_participants.get(identity)
    if p is None:
        return None
    return next(
        (
            pub
            for pub in p.track_publications.values()
            if pub.source == rtc.TrackSource.SOURCE_MICROPHONE
        ),
        None,
    )


@pytest.fixture
async def booth_app(livekit_server: LiveKitFixture, tmp_path: Path) -> AsyncIterator[WebApp]:
    """The web app with the booth and invites, on a database of its own."""
    async with serving_web_app(livekit_server, tmp_path / "data") as app:
        yield app


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def join_english_page(page: Page, app: WebApp, room: str, *, role: str) -> None:
    """The meeting page joins ``room`` as Lena, who wants English."""
    await join(
        page, PageApp(url=f"{app.url}/"), room=room, name="Lena Web", language="en", role=role
    )
    await joined(page)


def expression(field: str, check: str) -> str:
    """A JavaScript test of one snapshot field: ``expression('live', "=== 'en'")``."""
    return f"(window.interpreterPage.snapshot().{field}) {check}"


async def test_console_takes_coughs_hands_over_and_explains_refusals(
    livekit_server: LiveKitFixture,
    booth_app: WebApp,
    browser: Browser,
    http: aiohttp.ClientSession,
    output_dir: Path,
    tmp_path: Path,
) -> None:
    room = "console-booth"
    wav = speech_wav(tmp_path)
    ana = await invite(http, booth_app.url, livekit_server, room, "Ana Lima", ("es", "en"))
    bea = await invite(http, booth_app.url, livekit_server, room, "Bea Costa", ("es", "en"))
    assert ana["console_url"].startswith(f"{booth_app.url}/console#")
    a_id, b_id = ana["identity"], bea["identity"]
    # a third-party listener of English that follows the one subscription rule
    lena = await join_rule_listener(livekit_server, room, "lena", "en")
    chromium = await browser.launch(f"--use-file-for-fake-audio-capture={wav}")
    a = await browser.new_page(chromium, "console-ana")
    b = await browser.new_page(chromium, "console-bea")
    listener_page = await browser.new_page(chromium, "listener-label")
    hook = CONSOLE_HOOK
    try:
        await a.goto(ana["console_url"], hook=hook)
        await b.goto(bea["console_url"], hook=hook)
        await join_english_page(listener_page, booth_app, room, role="participant")
        # (a speaking participant: the page's own level meter moves too)
        await listener_page.wait_for(
            "window.interpreterPage.snapshot().micPeak > 0.01", within=10, what="page meter"
        )

        # both consoles are in the room, not live, microphones published as "en" and muted
        for page, identity in ((a, a_id), (b, b_id)):
            s = await page.snapshot()
            assert s["connected"] and s["identity"] == identity, s
            assert s["outgoing"] == "en" and s["live"] == "" and s["liveText"] == "Not live"
            assert s["buttons"] == ["take"], s
        await wait_for(
            lambda: all(
                (mic := mic_of(lena.room, i)) is not None and mic.name == "en" and mic.muted
                for i in (a_id, b_id)
            ),
            within=15,
            what="both consoles' microphones published as 'en', muted",
        )
        await listener_page.wait_for(
            "document.getElementById('voice-label').hidden", within=5, what="no label yet"
        )

        # muted from the start: the level meter has heard nothing
        assert (await a.snapshot())["micPeak"] == 0

        # Ana takes English: live, microphone open, heard by the English listener
        await a.click("#take")
        await a.wait_for(expression("live", "=== 'en'"), within=10, what="Ana live on English")
        s = await a.snapshot()
        assert s["liveText"] == "Live — English", s
        assert s["buttons"] == ["release", "handover-group"], s
        await a.wait_for(expression("mic.muted", "=== false"), within=5, what="mic open")
        await wait_for(
            lambda: (
                lena.room.remote_participants[a_id].attributes.get("interpreter.live") == "en"
                and mic_muted(lena.room, a_id) is False
            ),
            within=10,
            what="the room to see Ana live on English with an open microphone",
        )
        await wait_for(
            lambda: lena.first_loud_audio_at(a_id, "en") is not None,
            within=15,
            what="the English listener to hear Ana's microphone",
        )
        label = await listener_page.wait_for(
            "(() => { const l = document.getElementById('voice-label');"
            " return !l.hidden && l.textContent; })()",
            within=10,
            what="the listener page's interpretation label",
        )
        assert label == "Interpreted by Ana Lima"
        await a.wait_for(expression("micPeak", "> 0.01"), within=10, what="the level meter")
        await a.screenshot(output_dir / "console-live.png")
        await listener_page.screenshot(output_dir / "page-interpreted-by.png")
        # Bea's console sees Ana on air: request instead of take
        await b.wait_for(
            expression("buttons.join()", "=== 'request'"), within=5, what="Bea's request button"
        )
        assert "Ana Lima is live on English" in (await b.snapshot())["detail"]

        # cough: held with the mouse, the track is muted; let go, it is open again
        await a.mouse_down("#cough")
        await a.wait_for(expression("mic.muted", "=== true"), within=5, what="cough mutes")
        await wait_for(
            lambda: mic_muted(lena.room, a_id) is True, within=5, what="muted in the room"
        )
        assert (await a.snapshot())["coughing"]
        await a.screenshot(output_dir / "console-cough.png")
        await a.mouse_up()
        await a.wait_for(expression("mic.muted", "=== false"), within=5, what="cough released")
        await wait_for(
            lambda: mic_muted(lena.room, a_id) is False, within=5, what="unmuted in the room"
        )
        # and with the keyboard (hold C)
        await a.key_down("c")
        await a.wait_for(expression("mic.muted", "=== true"), within=5, what="C mutes")
        await a.key_up("c")
        await a.wait_for(expression("mic.muted", "=== false"), within=5, what="C released")
        assert (await a.snapshot())["live"] == "en"  # a cough never leaves the channel

        # Bea opens her microphone while Ana is live: both consoles show the red warning
        await b.click("#mic")
        for page in (a, b):
            warning = await page.wait_for(
                expression("warning", "|| ''"), within=10, what="the two-microphones warning"
            )
            assert "Two microphones are open on English" in warning, warning
        await b.screenshot(output_dir / "console-two-mics.png")
        await b.click("#mic")
        await a.wait_for(expression("warning", "=== null"), within=10, what="warning gone")

        # hand-over: Ana offers English to Bea, Bea accepts
        await a.click("#handover")
        waiting = await a.wait_for(expression("waiting", "|| ''"), within=5, what="waiting")
        assert "Offered English to Bea Costa" in waiting, waiting
        offer = await b.wait_for(expression("pending", "|| ''"), within=5, what="the offer")
        assert offer.startswith("Ana Lima offers you English"), offer
        await b.screenshot(output_dir / "console-offer.png")
        await b.click("#accept")
        await b.wait_for(expression("live", "=== 'en'"), within=10, what="Bea live")
        await b.wait_for(expression("mic.muted", "=== false"), within=5, what="Bea's mic open")
        await a.wait_for(expression("live", "=== ''"), within=10, what="Ana no longer live")
        await a.wait_for(
            expression("buttons.join()", "=== 'request'"), within=5, what="Ana's request button"
        )
        s = await a.snapshot()
        assert s["liveText"] == "Not live", s
        assert s["waiting"] is None and s["pending"] is None, s
        await a.wait_for(expression("mic.muted", "=== true"), within=5, what="Ana muted")
        await wait_for(
            lambda: (
                lena.room.remote_participants[b_id].attributes.get("interpreter.live") == "en"
                and not lena.room.remote_participants[a_id].attributes.get("interpreter.live")
                and mic_muted(lena.room, a_id) is True
            ),
            within=10,
            what="the room to see Bea live and Ana muted",
        )
        await wait_for(
            lambda: lena.first_loud_audio_at(b_id, "en") is not None,
            within=15,
            what="the English listener to hear Bea",
        )
        await listener_page.wait_for(
            "document.getElementById('voice-label').textContent === 'Interpreted by Bea Costa'",
            within=10,
            what="the label to name Bea",
        )
        await a.screenshot(output_dir / "console-after-handover.png")

        # Ana asks for English back; Bea declines: nothing changes
        await a.click("#request")
        request = await b.wait_for(expression("pending", "|| ''"), within=5, what="request")
        assert request.startswith("Ana Lima asks to take over English"), request
        await b.click("#decline")
        await b.wait_for(expression("pending", "=== null"), within=5, what="declined")
        await a.wait_for(expression("waiting", "=== null"), within=5, what="no longer waiting")
        assert (await b.snapshot())["live"] == "en"

        # direction: Ana interprets into Spanish now; her track follows the name
        await a.click("label[for=out-es]")
        await wait_for(
            lambda: getattr(mic_of(lena.room, a_id), "name", None) == "es",
            within=10,
            what="Ana's microphone republished as 'es'",
        )
        await a.click("#take")
        await a.wait_for(expression("live", "=== 'es'"), within=10, what="Ana live on Spanish")
        # switching to English while Bea holds it: refused, and the console says why
        await a.click("label[for=out-en]")
        refusal = await a.wait_for(
            "window.interpreterPage.snapshot().notices"
            " .find((n) => n.slot === 'booth' && n.code !== 'poll')",
            within=10,
            what="the refusal",
        )
        print(f"\nrefusal shown: {json.dumps(refusal)}")
        assert refusal["code"] == "booth_taken", refusal
        assert refusal["text"] == (
            "Could not switch direction: Bea Costa is live on English; use Request to ask for it."
        ), refusal
        s = await a.snapshot()
        assert s["live"] == "es" and s["outgoing"] == "es" and s["mic"]["name"] == "es", s
        assert await a.evaluate("document.getElementById('out-es').checked")
        # Bea is working on English, not passive: her open microphone is no warning
        assert s["warning"] is None, s
        await a.screenshot(output_dir / "console-refused.png")

        # once Bea releases English, the same switch moves Ana there in one step, and her
        # microphone follows under the new name: the English listener hears her again
        await b.click("#release")
        await b.wait_for(expression("live", "=== ''"), within=10, what="Bea released")
        switched_at = time.time()
        await a.click("label[for=out-en]")
        await a.wait_for(expression("live", "=== 'en'"), within=10, what="Ana moved to English")
        await a.wait_for(
            "(window.interpreterPage.snapshot().mic || {}).name === 'en'",
            within=10,
            what="the microphone republished as 'en'",
        )
        await wait_for(
            lambda: LoudTimeline(lena, a_id, "en").first_loud(after=switched_at) is not None,
            within=15,
            what="the English listener to hear Ana after the direction switch",
        )
        assert getattr(mic_of(lena.room, a_id), "name", None) == "en"
        await a.click("#release")
        await a.wait_for(expression("live", "=== ''"), within=10, what="Ana released English")
        # the one failed request is the refused direction switch (which Chromium also logs)
        assert a.http_errors() == [f"409 POST {booth_app.url}/api/rooms/{room}/booth"]
        assert [e for e in a.console_errors() if "409 (Conflict)" not in e] == []
        assert b.console_errors() == [] and b.http_errors() == []
    finally:
        await browser.call("closeBrowser", browser=chromium)
        await lena.aclose()
        await lena.room.disconnect()


async def test_console_explains_links_it_cannot_use(
    booth_app: WebApp, browser: Browser, output_dir: Path, tmp_path: Path
) -> None:
    chromium = await browser.launch()
    page = await browser.new_page(chromium, "console-bad-link")
    start = "document.getElementById('start-message').textContent"
    try:
        # no token in the link
        await page.goto(f"{booth_app.url}/console", hook=CONSOLE_HOOK)
        assert "link is incomplete" in await page.evaluate(start)
        # a participant's token is not an invite
        token = mint_token(
            api_key=DEV_API_KEY,
            api_secret=DEV_API_SECRET,
            room="console-links",
            identity="pia",
            attributes={"role": "participant", "language": "en"},
        )
        await page.close()
        page = await browser.new_page(chromium, "console-not-invited")
        await page.goto(
            f"{booth_app.url}/console#room=console-links&token={token}",
            hook=CONSOLE_HOOK,
        )
        assert "not an interpreter invite" in await page.evaluate(start)
        assert await page.evaluate("document.getElementById('console-view').hidden")
        await page.screenshot(output_dir / "console-not-an-invite.png")
        assert page.console_errors() == []
    finally:
        await browser.call("closeBrowser", browser=chromium)


async def test_console_hears_the_floor_or_a_relay_and_the_label_follows_the_voice(
    livekit_server: LiveKitFixture,
    worker: WorkerProcess,
    browser: Browser,
    http: aiohttp.ClientSession,
    output_dir: Path,
    tmp_path: Path,
) -> None:
    room = "console-floor"
    speech = render(SPANISH, "es", tmp_path / "es.wav")
    wav = speech_wav(tmp_path)
    ana_room = await livekit_server.connect(
        room, "ana", name="Ana Lima", attributes={"language": "es"}
    )
    ana = Speaker(ana_room)
    await ana.publish()
    stop_talking = asyncio.Event()

    async def talk() -> None:
        while not stop_talking.is_set():
            await ana.play(speech, until=stop_talking)
            await ana.silence(1.0)

    talking = asyncio.ensure_future(talk())
    chromium = await browser.launch(f"--use-file-for-fake-audio-capture={wav}")
    page = await browser.new_page(chromium, "console-ivo")
    listener_page = await browser.new_page(chromium, "listener-machine")
    try:
        async with serving_web_app(livekit_server, worker.data_dir) as app:
            ivo = await invite(http, app.url, livekit_server, room, "Ivo Rossi", ("es", "en"))
            await page.goto(ivo["console_url"], hook=CONSOLE_HOOK)

            # the floor: Ana's original only, and her words in the floor captions
            await page.wait_for(
                "window.interpreterPage.snapshot().subscribed.length > 0",
                within=20,
                what="the console to hear the floor",
            )
            s = await page.snapshot()
            assert [(t["participant"], t["track"]) for t in s["subscribed"]] == [
                ("ana", "microphone")
            ], s
            caption = await page.wait_for(
                "window.interpreterPage.snapshot().captions"
                ".find((c) => c.speaker === 'ana' && c.language === 'es' && c.text.length > 10)",
                within=READY,
                what="a floor caption of Ana's Spanish",
            )
            print(f"\nfloor caption: {caption['text']}")
            await page.screenshot(output_dir / "console-floor.png")

            # relay English: the English channel as a listener hears it, the original ducked
            await page.select("#input", "en")
            await page.wait_for(
                "window.interpreterPage.snapshot().subscribed"
                ".some((t) => t.participant === 'translator-ana' && t.track === 'en')",
                within=READY,
                what="the console to hear translator-ana's English track",
            )
            s = await page.snapshot()
            assert s["input"] == "en"
            tracks = {(t["participant"], t["track"]) for t in s["subscribed"]}
            assert tracks == {("ana", "microphone"), ("translator-ana", "en")}, s
            # the volume slider scales the whole input
            await page.fill("#volume", "50")
            await page.wait_for(
                "window.interpreterPage.snapshot().subscribed"
                ".find((t) => t.track === 'en').volume === 0.5",
                within=5,
                what="the relay at half volume",
            )
            await page.wait_for(
                "window.interpreterPage.snapshot().subscribed"
                ".find((t) => t.participant === 'ana').volume < 0.1",
                within=15,
                what="Ana's original ducked under the relay (15 % of 50 %)",
            )
            await page.screenshot(output_dir / "console-relay.png")

            # a listener of English: the machine voices English, then the interpreter does
            await join_english_page(listener_page, app, room, role="listener")
            label = "document.getElementById('voice-label').textContent"
            await listener_page.wait_for(
                f"{label} === 'Machine interpretation'", within=15, what="the machine label"
            )
            await listener_page.screenshot(output_dir / "page-machine-interpretation.png")
            await page.select("#input", "")  # back to the floor to interpret
            await page.click("#take")
            await page.wait_for(expression("live", "=== 'en'"), within=10, what="Ivo live")
            await listener_page.wait_for(
                f"{label} === 'Interpreted by Ivo Rossi'",
                within=15,
                what="the label to name the interpreter once the machine stops voicing English",
            )
            await page.screenshot(output_dir / "console-live-floor.png")
            await page.click("#release")
            await listener_page.wait_for(
                f"{label} === 'Machine interpretation'",
                within=15,
                what="the machine label again after the release",
            )
            assert page.console_errors() == [], page.console_errors()
    finally:
        stop_talking.set()
        await asyncio.gather(talking, return_exceptions=True)
        await browser.call("closeBrowser", browser=chromium)
        await ana_room.disconnect()
