"""The caption segment: one piece of text a listener sees, and its wire forms.

A *source* segment is what the speaker said, in the language they said it; it is sent as
interim updates, then once final. A *translation* is final only, one per target language, and
carries the id of the source segment it translates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from languages import Language

__all__ = [
    "ATTR_FINAL",
    "ATTR_LANGUAGE",
    "ATTR_SEGMENT_ID",
    "ATTR_SOURCE_LANGUAGE",
    "ATTR_TRACK_ID",
    "ATTR_TRANSLATED",
    "CAPTIONS_DATA_TOPIC",
    "TRANSCRIPTION_TOPIC",
    "Caption",
]

TRANSCRIPTION_TOPIC = "lk.transcription"
CAPTIONS_DATA_TOPIC = "interpreter.captions"

ATTR_SEGMENT_ID = "lk.segment_id"
ATTR_TRACK_ID = "lk.transcribed_track_id"
ATTR_FINAL = "lk.transcription_final"
ATTR_LANGUAGE = "language"
ATTR_SOURCE_LANGUAGE = "source_language"
ATTR_TRANSLATED = "translated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Caption:
    """One caption update.

    ``start``/``end`` are seconds from the first moment the translator heard the speaker
    (audio time); ``wall_time`` is the Unix time the speech ended.
    """

    segment_id: str
    source_segment_id: str
    speaker_identity: str
    speaker_name: str
    track_sid: str
    language: Language
    source_language: Language
    text: str
    final: bool
    start: float
    end: float
    wall_time: float

    @property
    def translated(self) -> bool:
        return self.segment_id != self.source_segment_id

    def stream_attributes(self) -> dict[str, str]:
        """Attributes of the ``lk.transcription`` text stream carrying this caption."""
        return {
            ATTR_SEGMENT_ID: self.segment_id,
            ATTR_TRACK_ID: self.track_sid,
            ATTR_FINAL: "true" if self.final else "false",
            ATTR_LANGUAGE: self.language,
            ATTR_SOURCE_LANGUAGE: self.source_language,
            ATTR_TRANSLATED: "true" if self.translated else "false",
            "start": f"{self.start:.3f}",
            "end": f"{self.end:.3f}",
            "wall_time": f"{self.wall_time:.3f}",
        }

    def to_json(self) -> str:
        """The compact data-message form, for clients that do not read text streams."""
        return json.dumps(
            {
                "id": self.segment_id,
                "source_id": self.source_segment_id,
                "speaker": self.speaker_identity,
                "name": self.speaker_name,
                "track": self.track_sid,
                "language": self.language,
                "source_language": self.source_language,
                "translated": self.translated,
                "final": self.final,
                "text": self.text,
                "start": round(self.start, 3),
                "end": round(self.end, 3),
                "wall_time": round(self.wall_time, 3),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
