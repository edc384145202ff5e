"""One language-matching rule on both sides: ``languages.matches`` on the server and the page's
``matches`` (web/static/protocol.js, with the tables the server serves), checked against the
same vectors (tests/data/language_matching.json)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from captions.protocol import protocol_document
from languages import matches, normalize_language

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "data" / "language_matching.json"
NODE_TEST = ROOT / "tests" / "js" / "language_matching.test.mjs"

PAIRS: list[tuple[str, str, bool]] = [
    (a, b, expected) for a, b, expected in json.loads(VECTORS.read_text())["pairs"]
]


@pytest.mark.parametrize(("a", "b", "expected"), PAIRS, ids=[f"{a}~{b}" for a, b, _ in PAIRS])
def test_server_rule_follows_the_vectors(a: str, b: str, expected: bool) -> None:
    # the page gets canonical codes only (attributes and track names are normalised)
    assert normalize_language(a) == a and normalize_language(b) == b
    assert matches(a, b) is expected
    assert matches(b, a) is expected


def test_page_rule_follows_the_same_vectors(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node (20+) is needed to test the page's JavaScript"
    tables = tmp_path / "tables.json"
    tables.write_text(json.dumps(protocol_document()["language_matching"]))
    done = subprocess.run(
        [node, "--test", str(NODE_TEST)],
        env=dict(os.environ, LANGUAGE_TABLES=str(tables), LANGUAGE_VECTORS=str(VECTORS)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"# pass {len(PAIRS) + 1}" in done.stdout, done.stdout
