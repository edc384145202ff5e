"""The caption segment: one piece of text a listener sees, and its wire forms.

A *source* segment is what the speaker said, in the language they said it; it is sent as
interim updates, then once final. A *translation* is final only, one per target language, and
carries the id of the source segment it translates. Its wire forms are in
:mod:`captions.live`; its stored form in :mod:`captions.store`.
"""

from __future__ import annotations

from dataclasses import dataclass

from languages import Language

__all__ = ["Caption"]


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
