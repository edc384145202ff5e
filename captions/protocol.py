"""The room protocol: every name that the agents, the web app, the page and third-party LiveKit
clients rely on (CONTRACTS.md), in one place.

Python code imports these constants; the page gets the same values from ``GET /api/protocol``
(:func:`protocol_document`), never from copies of its own. It lives in ``captions/`` because
that is the lowest package that speaks the room's wire format (captions are most of it), so the
agent, the transcript store and the web app can all import it without an upward edge. Pure
data and string rules: importing it loads neither LiveKit nor pydantic.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Final

from languages import Language, normalize_language
from languages.codes import language_match_tables

__all__ = [
    "AGENT_IDENTITY_PREFIX",
    "ATTR_INTERPRETER_LANGUAGES",
    "ATTR_INTERPRETER_LIVE",
    "ATTR_LANGUAGE",
    "ATTR_ROLE",
    "ATTR_SOURCE",
    "ATTR_WORKER",
    "BOOTH_ACTIONS",
    "BOOTH_PENDING_KINDS",
    "BOOTH_VOICES",
    "CAPTION_END",
    "CAPTION_FINAL",
    "CAPTION_LANGUAGE",
    "CAPTION_SEGMENT_ID",
    "CAPTION_SOURCE_LANGUAGE",
    "CAPTION_SOURCE_SEGMENT_ID",
    "CAPTION_START",
    "CAPTION_TRACK_ID",
    "CAPTION_TRANSLATED",
    "CAPTION_WALL_TIME",
    "CLIENT_ROLES",
    "MAX_ROOM_NAME",
    "PENDING_TTL",
    "RESERVED_ROLES",
    "ROLE_INTERPRETER",
    "ROLE_LISTENER",
    "ROLE_PARTICIPANT",
    "ROOM_NAME_PATTERN",
    "ROOM_NAME_RULE",
    "TOPIC_CAPTIONS",
    "TOPIC_TRANSCRIPTION",
    "agent_identity",
    "is_agent_identity",
    "is_reserved_identity",
    "is_valid_room_name",
    "language_of_track",
    "protocol_document",
    "segment_run_prefix",
    "source_segment_id",
    "speaker_of_agent",
    "track_name",
    "translated_segment_id",
]

# --- participant attributes -------------------------------------------------------------------
ATTR_LANGUAGE: Final = "language"
"""BCP-47: the language a participant wants to hear (and the prior for what they speak)."""
ATTR_ROLE: Final = "role"
"""Set by the token that admitted the participant (never by the client)."""
ATTR_SOURCE: Final = "interpreter.source"
"""On a translator agent: the identity of the speaker it interprets."""
ATTR_INTERPRETER_LANGUAGES: Final = "interpreter.languages"
"""On a translator agent: the codes it voices; on a human interpreter: their language pair."""
ATTR_INTERPRETER_LIVE: Final = "interpreter.live"
"""On a human interpreter: the language they are live on (empty otherwise); server-side only."""
ATTR_WORKER: Final = "interpreter.worker"
"""On a translator agent: the presence name of the worker process that runs it (set by its
token). A translator whose worker stopped renewing its presence is relaunched elsewhere."""

# --- roles ------------------------------------------------------------------------------------
ROLE_PARTICIPANT: Final = "participant"
ROLE_LISTENER: Final = "listener"
ROLE_INTERPRETER: Final = "interpreter"
CLIENT_ROLES: Final = (ROLE_PARTICIPANT, ROLE_LISTENER)
"""Roles anyone may ask the token endpoint for; an interpreter is invited by an organizer."""
RESERVED_ROLES: Final = (ROLE_INTERPRETER, "agent", "admin", "translator")
"""Roles that carry trust: asking the token endpoint for one is refused (403), not mistaken."""

# --- the interpreters' booth (POST /api/rooms/{room}/booth) ----------------------------------
BOOTH_ACTIONS: Final = ("take", "release", "offer", "request", "accept", "decline", "direction")
"""What an interpreter may ask of the booth."""
BOOTH_PENDING_KINDS: Final = ("offer", "request")
"""A hand-over waiting for an answer: offered by the live interpreter, or requested of them."""
BOOTH_VOICES: Final = ("human", "machine")
"""Who is heard on a language a human interpreter is live on (the machine covers while the
human is muted or not publishing)."""
PENDING_TTL: Final = 60.0
"""Seconds an offer or a request waits for its answer before it lapses."""

# --- identities -------------------------------------------------------------------------------
AGENT_IDENTITY_PREFIX: Final = "translator-"
"""Translator agents are ``translator-<speaker identity>``."""
_RESERVED_IDENTITY_PREFIXES: Final = ("translator", "agent")


def agent_identity(speaker_identity: str) -> str:
    """The identity of the translator agent that interprets ``speaker_identity``."""
    return AGENT_IDENTITY_PREFIX + speaker_identity


def is_agent_identity(identity: str) -> bool:
    return identity.startswith(AGENT_IDENTITY_PREFIX)


def speaker_of_agent(identity: str) -> str | None:
    """The speaker a translator agent's identity names, or ``None`` for other identities."""
    return identity[len(AGENT_IDENTITY_PREFIX) :] if is_agent_identity(identity) else None


def is_reserved_identity(identity: str) -> bool:
    """Identities no human may get (they could pass for an agent's)."""
    return identity.lower().startswith(_RESERVED_IDENTITY_PREFIXES)


# --- tracks -----------------------------------------------------------------------------------
def track_name(language: Language) -> str:
    """An interpretation track (an agent's or a live interpreter's) is named with its
    canonical BCP-47 code."""
    return str(language)


def language_of_track(name: str) -> Language:
    """The language an interpretation track carries (raises ``UnknownLanguageError``)."""
    return normalize_language(name)


# --- rooms ------------------------------------------------------------------------------------
MAX_ROOM_NAME: Final = 128
ROOM_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~-]{0,127}")
"""Room names this system serves: 1-128 ASCII letters, digits and ``_ . ~ -``, starting with a
letter or digit (safe in a URL path and a file name)."""
ROOM_NAME_RULE: Final = (
    "1-128 ASCII letters, digits, '_', '.', '~' or '-', starting with a letter or digit"
)


def is_valid_room_name(name: str) -> bool:
    return ROOM_NAME_PATTERN.fullmatch(name) is not None


# --- captions ---------------------------------------------------------------------------------
TOPIC_TRANSCRIPTION: Final = "lk.transcription"
"""LiveKit's text-stream topic for transcriptions: every caption update."""
TOPIC_CAPTIONS: Final = "interpreter.captions"
"""Data-message topic: every final caption again, as JSON."""

CAPTION_SEGMENT_ID: Final = "lk.segment_id"
CAPTION_TRACK_ID: Final = "lk.transcribed_track_id"
CAPTION_FINAL: Final = "lk.transcription_final"
CAPTION_LANGUAGE: Final = "language"
CAPTION_SOURCE_LANGUAGE: Final = "source_language"
CAPTION_TRANSLATED: Final = "translated"
CAPTION_SOURCE_SEGMENT_ID: Final = "source_segment_id"
"""The id of the source segment a caption belongs to (itself for a source caption), so clients
group a segment with its translations without parsing ids."""
CAPTION_START: Final = "start"
CAPTION_END: Final = "end"
CAPTION_WALL_TIME: Final = "wall_time"


# --- segment ids ------------------------------------------------------------------------------
def segment_run_prefix(speaker_identity: str) -> str:
    """A prefix for one run of a speaker's translator: ``<speaker>-<6 random hex>``. Ids must
    differ between runs (a restarted agent) or the transcript store would overwrite lines."""
    return f"{speaker_identity}-{secrets.token_hex(3)}"


def source_segment_id(run_prefix: str, number: int) -> str:
    """``<run prefix>-<n>``: the ``n``-th unit (from 1) of one run."""
    return f"{run_prefix}-{number}"


def translated_segment_id(source_id: str, language: Language) -> str:
    """``<source id>:<language>``: the translation of one unit. Opaque to clients, which use
    the ``source_segment_id`` attribute instead."""
    return f"{source_id}:{language}"


def protocol_document() -> dict[str, Any]:
    """Everything the page needs of the protocol, as JSON-ready data (``GET /api/protocol``)."""
    return {
        "attributes": {
            "language": ATTR_LANGUAGE,
            "role": ATTR_ROLE,
            "source": ATTR_SOURCE,
            "interpreter_languages": ATTR_INTERPRETER_LANGUAGES,
            "interpreter_live": ATTR_INTERPRETER_LIVE,
        },
        "roles": {
            "participant": ROLE_PARTICIPANT,
            "listener": ROLE_LISTENER,
            "interpreter": ROLE_INTERPRETER,
            "client": list(CLIENT_ROLES),
            "reserved": list(RESERVED_ROLES),
        },
        "agent_identity_prefix": AGENT_IDENTITY_PREFIX,
        "topics": {"transcription": TOPIC_TRANSCRIPTION, "captions": TOPIC_CAPTIONS},
        "caption_attributes": {
            "segment_id": CAPTION_SEGMENT_ID,
            "track_id": CAPTION_TRACK_ID,
            "final": CAPTION_FINAL,
            "language": CAPTION_LANGUAGE,
            "source_language": CAPTION_SOURCE_LANGUAGE,
            "translated": CAPTION_TRANSLATED,
            "source_segment_id": CAPTION_SOURCE_SEGMENT_ID,
            "start": CAPTION_START,
            "end": CAPTION_END,
            "wall_time": CAPTION_WALL_TIME,
        },
        "room_name": {"pattern": ROOM_NAME_PATTERN.pattern, "max_length": MAX_ROOM_NAME},
        "track_name": "canonical BCP-47 code of the language voiced",
        "booth": {
            "actions": list(BOOTH_ACTIONS),
            "pending_kinds": list(BOOTH_PENDING_KINDS),
            "voices": list(BOOTH_VOICES),
            "pending_ttl": PENDING_TTL,
        },
        "language_matching": language_match_tables(),
    }
