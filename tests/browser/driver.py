"""Headless Chromium for the browser tests, driven through playwright-core in a Node process
(``driver.cjs``): the test's event loop sends JSON commands and awaits the answers, so Python
room clients and the browser page run side by side in one test."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("driver.cjs")
PAGE_HOOK = Path(__file__).with_name("page_hook.mjs")
"""Injected after every navigation: ``window.interpreterPage.snapshot()`` (not in the app)."""
CHROMIUM = "/usr/bin/chromium"

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


class DriverError(AssertionError):
    """A browser command failed (the message carries the Node side's stack)."""


class Browser:
    """One Node driver process; launch browsers and open pages through it."""

    def __init__(self, *, playwright_core: Path, console_log: Path) -> None:
        self._playwright_core = playwright_core
        self._proc: asyncio.subprocess.Process | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._log = open(console_log, "a", encoding="utf-8")  # closed in aclose
        self.console: list[dict[str, str]] = []
        self.http_errors: list[dict[str, Any]] = []

    async def start(self) -> None:
        env = dict(os.environ, PLAYWRIGHT_CORE=str(self._playwright_core), CHROMIUM=CHROMIUM)
        self._proc = await asyncio.create_subprocess_exec(
            "node",
            str(DRIVER),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            env=env,
            limit=16 * 1024 * 1024,
        )
        self._reader = asyncio.create_task(self._read(), name="browser-driver")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            message = json.loads(raw)
            if message.get("event") == "console":
                self.console.append(message)
                self._log.write(f"[{message['page']}] {message['type']}: {message['text']}\n")
                self._log.flush()
                continue
            if message.get("event") == "http":
                self.http_errors.append(message)
                self._log.write(
                    f"[{message['page']}] http {message['status']}: "
                    f"{message['method']} {message['url']}\n"
                )
                self._log.flush()
                continue
            future = self._pending.pop(message["id"], None)
            if future is None or future.done():
                continue
            if message["ok"]:
                future.set_result(message["result"])
            else:
                future.set_exception(DriverError(message["error"]))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(DriverError("the browser driver exited"))

    async def call(self, cmd: str, *, within: float = 60, **args: Any) -> Any:
        assert self._proc is not None and self._proc.stdin is not None, "start() first"
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._proc.stdin.write((json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n").encode())
        await self._proc.stdin.drain()
        return await asyncio.wait_for(future, within)

    async def launch(self, *extra_flags: str, without: tuple[str, ...] = ()) -> str:
        """Start a Chromium with the usual flags (but ``without``) and ``extra_flags``;
        returns its id."""
        flags = [f for f in CHROMIUM_FLAGS if f not in without]
        return str(await self.call("launch", args=[*flags, *extra_flags]))

    async def new_page(
        self, browser: str, name: str, *, permissions: tuple[str, ...] = ("microphone",)
    ) -> Page:
        await self.call("newPage", browser=browser, name=name, permissions=list(permissions))
        return Page(self, name)

    async def aclose(self) -> None:
        if self._proc is None:
            self._log.close()
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            await asyncio.wait_for(self._proc.wait(), 15)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._log.close()


class Page:
    """A browser tab, addressed by name."""

    def __init__(self, browser: Browser, name: str) -> None:
        self._browser = browser
        self.name = name

    async def goto(self, url: str, *, hook: bool | Path = True) -> None:
        """Open ``url``; with ``hook``, also wait until the page is ready and inject the tests'
        view into it (:data:`PAGE_HOOK`, or the module file ``hook`` names)."""
        module = PAGE_HOOK if hook is True else hook or None
        await self._browser.call(
            "goto", page=self.name, url=url, hook=str(module) if module else None
        )

    def console_errors(self) -> list[str]:
        """This page's console errors and uncaught exceptions so far."""
        return [
            m["text"]
            for m in self._browser.console
            if m["page"] == self.name and m["type"] in ("error", "pageerror")
        ]

    def http_errors(self) -> list[str]:
        """This page's requests answered with 400 or more so far (``status METHOD path``)."""
        return [
            f"{m['status']} {m['method']} {m['url']}"
            for m in self._browser.http_errors
            if m["page"] == self.name
        ]

    async def fill(self, selector: str, value: str) -> None:
        await self._browser.call("fill", page=self.name, selector=selector, value=value)

    async def select(self, selector: str, value: str) -> None:
        await self._browser.call("select", page=self.name, selector=selector, value=value)

    async def check(self, selector: str) -> None:
        await self._browser.call("check", page=self.name, selector=selector)

    async def click(self, selector: str) -> None:
        await self._browser.call("click", page=self.name, selector=selector)

    async def mouse_down(self, selector: str) -> None:
        """Press the mouse button on ``selector`` and keep it pressed (:meth:`mouse_up`)."""
        await self._browser.call("mouse", page=self.name, selector=selector, action="down")

    async def mouse_up(self) -> None:
        await self._browser.call("mouse", page=self.name, selector="", action="up")

    async def key_down(self, key: str) -> None:
        """Press ``key`` (Playwright's key names) and keep it pressed (:meth:`key_up`)."""
        await self._browser.call("key", page=self.name, key=key, action="down")

    async def key_up(self, key: str) -> None:
        await self._browser.call("key", page=self.name, key=key, action="up")

    async def download(self, selector: str, path: Path) -> str:
        """Click ``selector``, save the download it starts to ``path``; returns its file name."""
        return str(
            await self._browser.call("download", page=self.name, selector=selector, path=str(path))
        )

    async def delay(self, part: str, *, seconds: float) -> None:
        """Answer every request whose URL contains ``part`` ``seconds`` late."""
        await self._browser.call("delay", page=self.name, part=part, ms=int(seconds * 1000))

    async def evaluate(self, expression: str) -> Any:
        return await self._browser.call("evaluate", page=self.name, expression=expression)

    async def wait_for(self, expression: str, *, within: float, what: str) -> Any:
        """Wait until the JavaScript ``expression`` is truthy; returns its value."""
        try:
            return await self._browser.call(
                "waitFor",
                page=self.name,
                expression=expression,
                timeoutMs=int(within * 1000),
                within=within + 10,
            )
        except DriverError as e:
            if "Timeout" in str(e):
                raise AssertionError(f"timed out after {within:.0f}s waiting for {what}") from e
            raise

    async def snapshot(self) -> dict[str, Any]:
        """The page's view of the meeting, through the tests' hook (``page_hook.mjs``)."""
        return dict(await self.evaluate("window.interpreterPage.snapshot()"))

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        await self._browser.call("screenshot", page=self.name, path=str(path), fullPage=full_page)
        return path

    async def close(self) -> None:
        await self._browser.call("closePage", page=self.name)
