"""The meeting page in headless Chromium, against a real LiveKit server and translator worker:
what a listener reads and hears, what a speaking page sends, and how the page explains trouble.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from captions.segments import Caption
from captions.store import Meeting
from interpreter.testing.audio import resample, write_wav
from interpreter.testing.clients import ListeningClient, Speaker, join_listener
from interpreter.testing.livekit import LiveKitFixture, WorkerProcess, free_port, wait_for
from interpreter.testing.speech import ENGLISH, SPANISH, SPANISH_IN_ENGLISH, chrf, render
from languages import Language, detect_language
from tests.browser.conftest import WebApp, web_config
from tests.browser.driver import Browser, Page
from web.app import build_app

READY = 60.0  # a new translator job may have to wait for a job process to load its models


async def join(
    page: Page, web_app: WebApp, *, room: str, name: str, language: str, role: str
) -> None:
    """Fill in the join form and press Join (does not wait for the meeting)."""
    await page.goto(f"{web_app.url}?room={room}")
    await page.wait_for(
        "document.querySelectorAll('#language option').length > 50",
        within=10,
        what="the language picker to fill",
    )
    await page.fill("#name", name)
    await page.select("#language", language)
    await page.check(f"input[name=role][value={role}]")
    await page.click("#join")


async def joined(page: Page) -> None:
    await page.wait_for(
        "window.interpreterPage.snapshot().joined", within=20, what="the page to join the room"
    )


def subscribed(snapshot: dict[str, Any]) -> set[tuple[str, str]]:
    return {(s["participant"], s["track"]) for s in snapshot["subscribed"]}


def translator_tracks(listener: ListeningClient, speaker: str) -> set[str]:
    agent = listener.room.remote_participants.get(f"translator-{speaker}")
    return {pub.name for pub in agent.track_publications.values()} if agent else set()


def final_captions(snapshot: dict[str, Any], *, language: str, skip: int = 0) -> list[str]:
    rows = snapshot["captions"][skip:]
    return [r["text"] for r in rows if r["final"] and r["language"] == language]


async def test_listener_page_reads_and_hears_the_interpretation(
    livekit_server: LiveKitFixture,
    worker: WorkerProcess,
    web_app: WebApp,
    browser: Browser,
    output_dir: Path,
    tmp_path: Path,
) -> None:
    room = "page-listens"
    speech = render(SPANISH, "es", tmp_path / "es.wav")
    # someone already wants English, so the translator voices it before the page arrives
    lena = await join_listener(
        livekit_server,
        room,
        "lena",
        "en",
        want_track=lambda pub, p: p.identity == "translator-ana" and pub.name == "en",
    )
    ana_room = await livekit_server.connect(
        room, "ana", name="Ana Lima", attributes={"language": "es"}
    )
    chromium = await browser.launch()
    page = await browser.new_page(chromium, "listener")
    talking: asyncio.Task[None] | None = None
    stop_talking = asyncio.Event()
    try:
        ana = Speaker(ana_room)
        await ana.publish()
        await wait_for(
            lambda: "en" in translator_tracks(lena, "ana"),
            within=READY,
            what="translator-ana to publish its 'en' track",
        )

        async def talk() -> None:
            while not stop_talking.is_set():
                await ana.play(speech, until=stop_talking)

        # Join while Ana is being interpreted: Join click -> first audible interpretation
        talking = asyncio.create_task(talk())
        await wait_for(
            lambda: lena.first_loud_audio_at("translator-ana", "en") is not None,
            within=30,
            what="the English interpretation to start",
        )
        join_ms: list[float] = []
        for attempt in range(3):
            if attempt:
                await page.click("#leave")
                await page.wait_for(
                    "!document.getElementById('join-view').hidden", within=10, what="the form"
                )
                await page.click("#join")
            else:
                await join(
                    page, web_app, room=room, name="Lena Web", language="en", role="listener"
                )
            await joined(page)
            ms = await page.wait_for(
                "window.interpreterPage.snapshot().joinToInterpretationMs",
                within=30,
                what="the English interpretation to be audible in the page",
            )
            join_ms.append(float(ms))
        stop_talking.set()
        await talking
        talking = None
        print(f"\nJoin click -> first translated audio: {[round(ms) for ms in join_ms]} ms")
        (output_dir / "browser-join-latency.json").write_text(
            json.dumps({"join_to_first_translated_audio_ms": join_ms}, indent=2)
        )

        # what the page subscribed to: Ana's original and her English interpretation only
        snap = await page.snapshot()
        assert subscribed(snap) == {("ana", "microphone"), ("translator-ana", "en")}

        # a clean run of the three sentences: the page shows them in English
        await ana.silence(3.0)
        before = len((await page.snapshot())["captions"])
        playing = asyncio.create_task(ana.play(speech))
        await asyncio.sleep(len(speech) / 16000 * 0.6)
        await page.screenshot(output_dir / "page-listener-live.png")
        await playing
        await ana.silence(2.0)
        await page.wait_for(
            f"""(() => {{
                const rows = window.interpreterPage.snapshot().captions.slice({before});
                return rows.filter((r) => r.final && r.language === 'en').length >= {len(SPANISH)};
            }})()""",
            within=30,
            what="an English caption for every Spanish sentence",
        )
        # when the interpretation has been spoken, Ana's original comes back to full volume
        await page.wait_for(
            "(window.interpreterPage.snapshot().originals.ana || {}).volume === 1",
            within=20,
            what="Ana's original to be restored after the interpretation",
        )
        snap = await page.snapshot()
        text = " ".join(final_captions(snap, language="en", skip=before))
        score = chrf(text, " ".join(SPANISH_IN_ENGLISH))
        print(f"English captions in the page (chrF {score:.1f}): {text}")
        assert score >= 40, f"chrF {score:.1f} < 40 for {text!r}"
        assert all(r["speaker"] == "ana" for r in snap["captions"][before:])
        # the original was ducked under the interpretation, and restored after it
        ana_original = snap["originals"]["ana"]
        assert ana_original["lowest"] <= 0.16, ana_original
        assert not ana_original["ducked"], ana_original
        assert any(e["speaker"] == "ana" and e["ducked"] for e in snap["duckEvents"])
        assert "es" not in {track for _, track in subscribed(snap)}
        shot = await page.screenshot(output_dir / "page-listener-en.png")
        assert shot.stat().st_size > 10_000

        # switching to French re-subscribes without rejoining; captions arrive in French
        identity = snap["identity"]
        await page.select("#hear", "fr")
        await page.wait_for(
            """(() => {
                const s = window.interpreterPage.snapshot();
                const tracks = s.subscribed.map((t) => t.participant + '/' + t.track);
                return s.language === 'fr' && tracks.includes('translator-ana/fr')
                    && !tracks.includes('translator-ana/en');
            })()""",
            within=READY,
            what="the page to hear translator-ana's French track instead of the English one",
        )
        page_participant = lena.room.remote_participants[identity]
        assert page_participant.attributes["language"] == "fr"
        before = len((await page.snapshot())["captions"])
        await ana.play(render(SPANISH[1:], "es", tmp_path / "es-2.wav"))
        await ana.silence(2.0)
        await page.wait_for(
            f"""window.interpreterPage.snapshot().captions.slice({before})
                .filter((r) => r.final && r.language === 'fr').length >= 2""",
            within=30,
            what="French captions",
        )
        snap = await page.snapshot()
        french = " ".join(final_captions(snap, language="fr", skip=before))
        print(f"French captions in the page: {french}")
        detected = detect_language(french, allowed=["fr", "es", "en"])
        assert detected is not None and detected.language == "fr", (french, detected)
        assert not final_captions(snap, language="en", skip=before)
        assert subscribed(snap) == {("ana", "microphone"), ("translator-ana", "fr")}
        await page.screenshot(output_dir / "page-listener-fr.png")

        # a language nobody can interpret Spanish into: the page says so, Ana stays audible
        await page.select("#hear", "ja")
        await ana.play(render(SPANISH[2:], "es", tmp_path / "es-3.wav"))
        notice = await page.wait_for(
            "document.querySelector('[data-banner=language]')?.textContent",
            within=30,
            what="the page to say there is no interpretation into Japanese",
        )
        print(f"Notice: {notice}")
        assert "Ana Lima" in notice
        snap = await page.snapshot()
        assert ("ana", "microphone") in subscribed(snap)
        assert snap["originals"]["ana"]["volume"] == 1
        await page.screenshot(output_dir / "page-listener-unavailable.png")
    finally:
        if talking is not None:
            stop_talking.set()
            await asyncio.gather(talking, return_exceptions=True)
        await browser.call("closeBrowser", browser=chromium)
        await ana_room.disconnect()
        await lena.aclose()
        await lena.room.disconnect()


async def test_speaking_page_is_captioned_for_other_participants(
    livekit_server: LiveKitFixture,
    worker: WorkerProcess,
    web_app: WebApp,
    browser: Browser,
    output_dir: Path,
    tmp_path: Path,
) -> None:
    room = "page-speaks"
    # Chromium's fake microphone plays this file once: silence while the translator starts
    speech = render(ENGLISH, "en", tmp_path / "en.wav")
    lead_in = np.zeros(6 * 16000, dtype=np.float32)
    wav = tmp_path / "microphone.wav"
    write_wav(wav, resample(np.concatenate([lead_in, speech]), 16000, 48000), 48000)
    pablo = await join_listener(livekit_server, room, "pablo", "es")
    chromium = await browser.launch(f"--use-file-for-fake-audio-capture={wav}%noloop")
    page = await browser.new_page(chromium, "speaker")
    try:
        await join(page, web_app, room=room, name="Ben Web", language="en", role="participant")
        await joined(page)
        identity = (await page.snapshot())["identity"]
        await page.wait_for(
            "document.getElementById('mic').getAttribute('aria-pressed') === 'true'",
            within=10,
            what="the microphone to be on",
        )
        await wait_for(
            lambda: len(pablo.finals(sender=identity, translated=False)) >= len(ENGLISH),
            within=6 + 30 + READY / 2,
            what="a caption for every sentence the page spoke",
        )
        source = pablo.finals(sender=identity, translated=False)
        text = " ".join(c.text for c in source)
        score = chrf(text, " ".join(ENGLISH))
        print(f"\nCaptions of the page's speech (chrF {score:.1f}): {text}")
        assert score >= 40, f"chrF {score:.1f} < 40 for {text!r}"
        assert all(c.language == "en" for c in source)
        await wait_for(
            lambda: bool(pablo.finals(sender=identity, language="es", translated=True)),
            within=15,
            what="a Spanish translation of the page's speech",
        )
        snap = await page.snapshot()
        assert snap["micPeak"] > 0.01, "the level meter never moved"
        await page.screenshot(output_dir / "page-speaker.png")
    finally:
        await browser.call("closeBrowser", browser=chromium)
        await pablo.aclose()
        await pablo.room.disconnect()


async def test_page_explains_refusals_and_unreachable_servers(
    livekit_server: LiveKitFixture, web_app: WebApp, browser: Browser, output_dir: Path
) -> None:
    # microphone prompts are answered "deny" in this browser
    chromium = await browser.launch(
        "--deny-permission-prompts", without=("--use-fake-ui-for-media-stream",)
    )
    page = await browser.new_page(chromium, "errors", permissions=())
    # a web app whose LiveKit server is not there
    dead = build_app(web_config(f"ws://127.0.0.1:{free_port()}"))
    runner = web.AppRunner(dead, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        # the token service refuses a bad room name, and the page says why
        await join(
            page, web_app, room="no spaces allowed", name="Eve", language="en", role="listener"
        )
        message = await page.wait_for(
            "!document.getElementById('join-error').hidden"
            " && document.getElementById('join-error').textContent",
            within=10,
            what="the refusal to be shown",
        )
        assert "room names" in message

        # a participant whose microphone is denied still joins, and is told so
        await page.fill("#room", "mic-denied")
        await page.check("input[name=role][value=participant]")
        await page.click("#join")
        await joined(page)
        banner = await page.wait_for(
            "document.querySelector('[data-banner=mic]')?.textContent",
            within=15,
            what="the microphone banner",
        )
        assert "denied" in banner
        await page.screenshot(output_dir / "page-mic-denied.png")
        await page.click("#leave")

        # LiveKit unreachable: the form says so instead of hanging
        dead_page = WebApp(url=f"http://127.0.0.1:{port}/")
        await join(page, dead_page, room="nobody", name="Eve", language="en", role="listener")
        message = await page.wait_for(
            "!document.getElementById('join-error').hidden"
            " && document.getElementById('join-error').textContent",
            within=30,
            what="the unreachable-server message",
        )
        assert "Cannot reach the meeting server" in message
        assert (await page.snapshot())["banners"] == []  # no stale "disconnected" or mic banner
        await page.screenshot(output_dir / "page-unreachable.png")
    finally:
        await browser.call("closeBrowser", browser=chromium)
        await runner.cleanup()


async def test_transcript_panel_downloads_the_meeting_in_each_language(
    livekit_server: LiveKitFixture,
    web_app: WebApp,
    browser: Browser,
    output_dir: Path,
    tmp_path: Path,
) -> None:
    assert web_app.store is not None
    room = "page-transcript"
    meeting = Meeting(room_sid="RM_page_transcript", room_name=room, started_at=time.time() - 60)
    said = "Buenos días a todos."
    for language, text in (("es", said), ("en", "Good morning everyone.")):
        await web_app.store.save_caption(
            meeting,
            Caption(
                segment_id="ana-1" if language == "es" else "ana-1:en",
                source_segment_id="ana-1",
                speaker_identity="ana",
                speaker_name="Ana Lima",
                track_sid="TR_ana",
                language=Language(language),
                source_language=Language("es"),
                text=text,
                final=True,
                start=1.0,
                end=2.5,
                wall_time=time.time() - 50,
            ),
        )
    chromium = await browser.launch()
    page = await browser.new_page(chromium, "transcript")
    try:
        await join(page, web_app, room=room, name="Tess", language="en", role="listener")
        await joined(page)
        labels = await page.wait_for(
            """(() => {
                const items = Array.from(document.querySelectorAll('#transcript-links li'));
                return !document.getElementById('transcripts').hidden && items.length >= 3
                    && items.map((li) => li.querySelector('.transcript-lang').textContent);
            })()""",
            within=10,
            what="the transcript panel to list the meeting's languages",
        )
        assert labels == ["Original", "English", "español"], labels
        await page.screenshot(output_dir / "page-transcripts.png")
        name = await page.download("#transcript-links li:nth-child(2) a", tmp_path / "en.vtt")
        assert name == f"{room}-en.vtt"
        vtt = (tmp_path / "en.vtt").read_text()
        assert vtt.startswith("WEBVTT")
        assert "Good morning everyone." in vtt and "Ana Lima" in vtt
    finally:
        await browser.call("closeBrowser", browser=chromium)


async def test_joining_is_clean_no_failed_request_no_console_error(
    livekit_server: LiveKitFixture, web_app: WebApp, browser: Browser, output_dir: Path
) -> None:
    # a fresh room (nothing said yet), a speaking participant with a (fake) microphone
    chromium = await browser.launch()
    page = await browser.new_page(chromium, "clean-join")
    try:
        await join(
            page, web_app, room="page-clean", name="Cleo", language="pt-BR", role="participant"
        )
        await joined(page)
        await page.wait_for(
            "document.getElementById('mic').getAttribute('aria-pressed') === 'true'",
            within=10,
            what="the microphone to be on",
        )
        # the transcript panel asked the server (on joining) and found nothing yet
        await page.wait_for(
            "document.getElementById('transcripts').hidden", within=5, what="the panel"
        )
        await asyncio.sleep(1.0)
        assert page.http_errors() == []
        assert page.console_errors() == []
        assert (await page.snapshot())["banners"] == []
        # the room-name rule comes from the served protocol: the form takes 128 characters
        assert await page.evaluate("document.getElementById('room').maxLength") == 128
    finally:
        await browser.call("closeBrowser", browser=chromium)


async def test_what_is_typed_before_the_page_is_ready_is_kept(
    web_app: WebApp, browser: Browser
) -> None:
    # a slow network: the LiveKit library arrives two seconds after the form is on screen
    chromium = await browser.launch()
    page = await browser.new_page(chromium, "early-typing")
    try:
        await page.delay("livekit-client.esm.js", seconds=2.0)
        await page.goto(f"{web_app.url}?room=from-the-link", hook=False)
        await page.fill("#name", "Dana")
        await page.fill("#room", "typed-room")
        await page.wait_for(
            "!document.getElementById('join').disabled", within=20, what="the page to get ready"
        )
        assert await page.evaluate("document.getElementById('name').value") == "Dana"
        assert await page.evaluate("document.getElementById('room').value") == "typed-room"
    finally:
        await browser.call("closeBrowser", browser=chromium)
