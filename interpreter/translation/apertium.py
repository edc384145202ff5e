"""Apertium: rule-based, offline translation from Debian packages (``apertium`` + pair packages).

Installed directions are discovered at run time from the modes directory (what ``apertium -l``
lists). Each direction runs as a long-lived pipeline in null-flush mode: every input block
ends with a NUL byte and the pipeline answers with one NUL-terminated block, so a call costs a
few milliseconds instead of the ~150 ms of starting the ten-process pipeline per sentence.

Two things about the Debian build (apertium 3.8.3, lttoolbox 3.7.1) shape this module:

* ``apertium -z`` does not work as a server: its text deformatter reads to end of input. We
  therefore run the mode's own pipeline (``apertium-wblank-mode -z``) and do the deformatting
  ourselves: reserved characters are escaped, ``* # ~`` travel as superblanks.
* ``lt-proc -b -z`` (lexical transfer) does not flush its output at a NUL; every stage is run
  under ``stdbuf -o0`` so each block reaches the end of the pipe at once.

Unknown words come out unmarked (the ``-n`` generator, as ``apertium -u``); any ``*``, ``#`` or
``@`` mark left in front of a word is removed. Glossary terms are enforced in two steps: the
sentence is translated as usual and Apertium's own translation of the term is replaced by the
glossary target (this keeps agreement when the genders match); a term whose default translation
cannot be found in the output is protected instead: it travels through the pipeline as a
superblank holding the target term, verbatim (articles around it keep the default gender).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from interpreter.errors import ProviderError, UnknownLanguageError
from interpreter.translation.engine import (
    Pair,
    TranslationEngine,
    TranslationRequest,
    check_translation,
    literal,
    term_pattern,
)
from languages import normalize_language

__all__ = ["DEFAULT_APERTIUM_DATADIR", "ApertiumEngine", "discover_apertium_modes"]

logger = logging.getLogger("interpreter.translation.apertium")

DEFAULT_APERTIUM_DATADIR = Path("/usr/share/apertium")

_MODE_NAME = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})(?:_([A-Z]{2}))?$")
# Characters with a meaning in the Apertium stream format; the text deformatter escapes them.
_ESCAPED = frozenset("\\[]^$/<>@{}")
# Characters that the pipeline would read as marks or operators; they travel as superblanks.
_SUPERBLANK = frozenset("*#~")
_SENTENCE_END = frozenset(".!?…:;")
_MARK = frozenset("*#@")
_READ_LIMIT = 4 * 1024 * 1024


def discover_apertium_modes(datadir: str | Path | None = None) -> dict[Pair, str]:
    """Map each installed translation direction to its Apertium mode name.

    Modes are read from ``<datadir>/modes`` (``/usr/share/apertium`` unless
    given; the setting is ``INTERPRETER_APERTIUM_DATADIR``);
    ``eng-spa`` becomes ``("en", "es")`` and a regional variant such as ``es-pt_BR`` becomes
    ``("es", "pt-BR")``. Dialect variants and languages the project does not know are skipped.
    """
    root = Path(datadir or DEFAULT_APERTIUM_DATADIR)
    modes_dir = root / "modes"
    if not modes_dir.is_dir():
        return {}
    found: dict[Pair, str] = {}
    for path in sorted(modes_dir.glob("*.mode")):
        match = _MODE_NAME.match(path.stem)
        if match is None:
            continue
        src_code, tgt_code, region = match.groups()
        try:
            src = normalize_language(src_code)
            tgt = normalize_language(f"{tgt_code}-{region}" if region else tgt_code)
        except UnknownLanguageError:
            continue
        if src == tgt:
            continue
        # Two modes for one pair (es-pt and spa-por): keep the first in sorted order.
        found.setdefault((src, tgt), path.stem)
    return found


def _encode(text: str) -> tuple[str, bool]:
    """Deformat plain text into the Apertium stream; return it and whether a full stop was
    added (the tagger and the analyser need a sentence end to flush the last word)."""
    out: list[str] = []
    for ch in text.replace("\0", ""):
        if ch in _ESCAPED:
            out.append("\\" + ch)
        elif ch in _SUPERBLANK:
            out.append("[" + ch + "]")
        else:
            out.append(ch)
    body = "".join(out).rstrip()
    added_stop = not body or body[-1] not in _SENTENCE_END
    if added_stop:
        body += "."
    return body + "[]", added_stop


def _superblank(term: str) -> str:
    """A superblank that carries ``term`` through the pipeline untouched."""
    escaped = "".join("\\" + ch if ch in _ESCAPED else ch for ch in term)
    return "[" + escaped + "]"


def _decode(stream: str) -> str:
    """Reformat the pipeline's output into plain text: unescape, open superblanks, drop the
    unknown-word marks (``*``, ``#``, ``@`` in front of a word)."""
    out: list[str] = []
    i, n = 0, len(stream)
    while i < n:
        ch = stream[i]
        if ch == "\\" and i + 1 < n:
            out.append(stream[i + 1])
            i += 2
        elif ch == "[":
            i += 1
            while i < n and stream[i] != "]":
                if stream[i] == "\\" and i + 1 < n:
                    i += 1
                out.append(stream[i])
                i += 1
            i += 1
        elif ch in _MARK and i + 1 < n and stream[i + 1].isalnum():
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _sentence_case(match: re.Match[str], term: str) -> str:
    """``term``, capitalised when it replaces a capitalised word at the start of a sentence."""
    before = match.string[: match.start()].rstrip()
    starts_sentence = not before or before[-1] in _SENTENCE_END
    if starts_sentence and match.group(0)[:1].isupper() and term[:1].islower():
        return term[:1].upper() + term[1:]
    return term


class _Pipeline:
    """One long-lived null-flush pipeline for one direction; one request at a time."""

    def __init__(self, *, mode: str, datadir: Path, timeout: float) -> None:
        self._mode = mode
        self._datadir = datadir
        self._timeout = timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def _command(self) -> str:
        mode_file = self._datadir / "modes" / f"{self._mode}.mode"
        proc = await asyncio.create_subprocess_exec(
            "apertium-wblank-mode",
            "-z",
            str(mode_file),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0 or not out.strip():
            raise ProviderError(
                f"apertium-wblank-mode failed for mode {self._mode!r}: "
                f"{err.decode(errors='replace').strip()}",
                retryable=False,
            )
        unbuffered = "stdbuf -o0 " if shutil.which("stdbuf") else ""
        stages = [stage.strip() for stage in out.decode().strip().split("|")]
        return " | ".join(unbuffered + stage for stage in stages)

    async def _start(self) -> asyncio.subprocess.Process:
        command = await self._command()
        env = dict(os.environ)
        env.setdefault("LC_ALL", "C.UTF-8")
        # $1 is the generator flag (-n: no unknown-word marks), $2 the tagger flag (none).
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            "apertium",
            "-n",
            "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            limit=_READ_LIMIT,
            start_new_session=True,
        )
        logger.info("apertium pipeline started", extra={"mode": self._mode, "pid": proc.pid})
        return proc

    async def run(self, block: str) -> str:
        """Send one deformatted block, return the pipeline's answer for it."""
        async with self._lock:
            if self._proc is None or self._proc.returncode is not None:
                try:
                    self._proc = await self._start()
                except OSError as e:
                    raise ProviderError(
                        f"cannot start the apertium pipeline for {self._mode!r}: {e}",
                        retryable=False,
                    ) from e
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(block.encode("utf-8") + b"\0")
                await proc.stdin.drain()
                raw = await asyncio.wait_for(proc.stdout.readuntil(b"\0"), self._timeout)
            except TimeoutError as e:
                await self._kill()
                raise ProviderError(
                    f"apertium {self._mode!r} did not answer within {self._timeout} s",
                    retryable=True,
                ) from e
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                await self._kill()
                raise ProviderError(
                    f"apertium pipeline {self._mode!r} failed: {type(e).__name__}",
                    retryable=True,
                ) from e
            return raw[:-1].decode("utf-8", errors="replace")

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        await proc.wait()

    async def close(self) -> None:
        async with self._lock:
            proc, self._proc = self._proc, None
            if proc is None or proc.returncode is not None:
                return
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except TimeoutError:
                self._proc = proc
                await self._kill()


class ApertiumEngine(TranslationEngine):
    """Offline rule-based translation through installed Apertium pairs.

    Args:
        datadir: Apertium data directory (default ``/usr/share/apertium``).
        processes_per_pair: pipelines kept per direction; calls beyond that wait their turn.
        timeout: seconds one call may take before the pipeline is restarted.
        modes: explicit ``{pair: mode name}``, instead of discovering the installed ones.
    """

    def __init__(
        self,
        *,
        datadir: str | Path | None = None,
        processes_per_pair: int = 1,
        timeout: float = 10.0,
        modes: Mapping[Pair, str] | None = None,
    ) -> None:
        if processes_per_pair < 1:
            raise ValueError("processes_per_pair must be at least 1")
        self._datadir = Path(datadir or DEFAULT_APERTIUM_DATADIR)
        self._modes = dict(modes) if modes is not None else discover_apertium_modes(self._datadir)
        super().__init__(name="apertium", pairs=self._modes)
        self._per_pair = processes_per_pair
        self._timeout = timeout
        self._pools: dict[str, asyncio.Queue[_Pipeline]] = {}
        self._pipelines: list[_Pipeline] = []
        self._term_cache: dict[tuple[str, str], str] = {}

    def _pool(self, mode: str) -> asyncio.Queue[_Pipeline]:
        pool = self._pools.get(mode)
        if pool is None:
            pool = asyncio.Queue()
            for _ in range(self._per_pair):
                pipeline = _Pipeline(mode=mode, datadir=self._datadir, timeout=self._timeout)
                self._pipelines.append(pipeline)
                pool.put_nowait(pipeline)
            self._pools[mode] = pool
        return pool

    async def _run(self, mode: str, block: str) -> str:
        pool = self._pool(mode)
        pipeline = await pool.get()
        try:
            return await pipeline.run(block)
        finally:
            pool.put_nowait(pipeline)

    async def _plain(self, mode: str, text: str) -> str:
        block, added_stop = _encode(text)
        out = _decode(await self._run(mode, block)).strip()
        if added_stop and out.endswith("."):
            out = out[:-1].rstrip()
        return out

    async def prewarm(self, pairs: Sequence[Pair] = ()) -> None:
        """Start the pipelines of ``pairs`` (all installed pairs when empty) ahead of use."""
        for pair in pairs or sorted(self._pairs):
            await self._plain(self._modes[pair], "ok")

    async def _translate(self, request: TranslationRequest) -> str:
        text, source, target = request.text, request.source, request.target
        pair = self.check_pair(source, target)
        if not text.strip():
            raise ValueError("nothing to translate: the text is empty")
        mode = self._modes[pair]
        terms = {
            src: tgt
            for src, tgt in (request.glossary or {}).items()
            if src.strip() and tgt.strip() and term_pattern(src).search(text)
        }
        out = await self._plain(mode, text)
        if terms:
            out = await self._apply_glossary(mode, text, out, terms)
        return check_translation(self.name, text, out)

    async def _apply_glossary(
        self, mode: str, text: str, out: str, terms: Mapping[str, str]
    ) -> str:
        replace: list[tuple[re.Pattern[str], str]] = []
        protect: dict[str, str] = {}
        for src, tgt in sorted(terms.items(), key=lambda kv: -len(kv[0])):
            key = (mode, src.lower())
            default = self._term_cache.get(key)
            if default is None:
                default = await self._plain(mode, src)
                self._term_cache[key] = default
            pattern = term_pattern(default) if default else None
            if pattern is not None and pattern.search(out):
                replace.append((pattern, tgt))
            else:
                protect[src] = tgt
        if protect:
            # Second pass: protected terms travel verbatim as superblanks.
            block, added_stop = _encode(text)
            for src, tgt in sorted(protect.items(), key=lambda kv: -len(kv[0])):
                encoded_src = _encode(src)[0].removesuffix("[]").removesuffix(".")
                block = term_pattern(encoded_src).sub(literal(_superblank(tgt)), block)
            out = _decode(await self._run(mode, block)).strip()
            if added_stop and out.endswith("."):
                out = out[:-1].rstrip()
        for pattern, tgt in replace:
            out = pattern.sub(functools.partial(_sentence_case, term=tgt), out)
        return out

    async def aclose(self) -> None:
        pipelines, self._pipelines = self._pipelines, []
        self._pools.clear()
        for pipeline in pipelines:
            await pipeline.close()
