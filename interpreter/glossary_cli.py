"""``python -m interpreter glossary ...``: check glossary files (setting them per room comes with
the glossary's web API)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from glossary import GlossaryError, load_glossary

__all__ = ["add_glossary_parser", "run_glossary"]


def add_glossary_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``glossary`` command and its subcommands to ``sub`` (argparse subparsers)."""
    glossary: argparse.ArgumentParser = sub.add_parser(
        "glossary",
        help="check glossary files (CSV, JSON, TBX-Basic)",
        description="Glossary files: CSV with a header row of BCP-47 codes (optional 'note' and "
        '\'keep\' columns), JSON {"terms": [...], "keep": [...]}, or TBX-Basic.',
    )
    actions = glossary.add_subparsers(dest="glossary_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="read a glossary file and list every problem, with line numbers"
    )
    check.add_argument("file", type=Path, help="the glossary file")
    check.add_argument(
        "--format",
        dest="glossary_format",
        choices=("csv", "json", "tbx"),
        help="the file's format (default: from its suffix)",
    )
    return glossary


def run_glossary(args: argparse.Namespace) -> int:
    """Run a ``glossary`` subcommand; 0 when the file is good, 2 when it is refused."""
    if args.glossary_command != "check":
        raise AssertionError(f"unhandled glossary command {args.glossary_command}")
    try:
        glossary = load_glossary(args.file, fmt=args.glossary_format)
    except ValueError as e:  # GlossaryError, or a format that cannot be told
        problems = e.problems if isinstance(e, GlossaryError) else ()
        if problems:
            print(f"{args.file}: refused, {len(problems)} problem(s):", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        else:
            print(f"error: {e}", file=sys.stderr)
        return 2
    per_language = Counter(lang for concept in glossary.concepts for lang in concept.terms)
    counts = ", ".join(f"{lang} {n}" for lang, n in sorted(per_language.items()))
    print(
        f"{args.file}: ok, {len(glossary.concepts)} concepts ({counts or 'none'}), "
        f"{len(glossary.keep)} do-not-translate terms"
    )
    return 0
