"""Captions: the segment model, publishing over LiveKit, the transcript store and exports."""

from captions.publisher import CaptionPublisher
from captions.segments import (
    CAPTIONS_DATA_TOPIC,
    TRANSCRIPTION_TOPIC,
    Caption,
)

__all__ = ["CAPTIONS_DATA_TOPIC", "TRANSCRIPTION_TOPIC", "Caption", "CaptionPublisher"]
