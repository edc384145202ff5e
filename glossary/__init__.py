"""Per-room terminology: glossary files read and checked whole, and terms found in text.

Loading (:mod:`glossary.files`: CSV, JSON, TBX-Basic), the glossary itself
(:mod:`glossary.terms`: concepts, do-not-translate terms, one direction's terms at a time) and
matching (:mod:`glossary.matching`: case-insensitive, whole words, singular and plural),
enforcement (:mod:`glossary.enforcement`: the terms a unit's translation must contain, in the
number said, and the check of the output), and one glossary per room in the database
(:mod:`glossary.store`, imported on its own so that importing this package loads no database
library). Like ``languages`` and ``captions`` this is
a leaf: it imports ``languages`` and nothing else of ours.
"""

from glossary.errors import GlossaryError, GlossaryStoreError, Problem
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
    "GlossaryStoreError",
    "PairTerms",
    "Problem",
    "Rendering",
    "TermIndex",
    "format_of",
    "load_glossary",
    "number_variants",
    "parse_glossary",
]
