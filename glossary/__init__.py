"""Per-room terminology: glossary files read and checked whole, and terms found in text.

Loading (:mod:`glossary.files`: CSV, JSON, TBX-Basic), the glossary itself
(:mod:`glossary.terms`: concepts, do-not-translate terms, one direction's terms at a time) and
matching (:mod:`glossary.matching`: case-insensitive, whole words, singular and plural). Using
a glossary in translation and recognition, and setting one per room, come next (the glossary
issue). Like ``languages`` and ``captions`` this is a leaf: it imports ``languages`` and
nothing else of ours.
"""

from glossary.errors import GlossaryError, Problem
from glossary.files import MAX_BYTES, Format, format_of, load_glossary, parse_glossary
from glossary.matching import Found, TermIndex, number_variants
from glossary.terms import Concept, Glossary, PairTerms, Rendering

__all__ = [
    "MAX_BYTES",
    "Concept",
    "Format",
    "Found",
    "Glossary",
    "GlossaryError",
    "PairTerms",
    "Problem",
    "Rendering",
    "TermIndex",
    "format_of",
    "load_glossary",
    "number_variants",
    "parse_glossary",
]
