"""Live captions: their wire forms and publishing them into a LiveKit room.

Each update is one short text stream on ``lk.transcription`` carrying the whole text of the
segment (LiveKit's convention for speech transcriptions: a client keeps the latest text per
``lk.segment_id`` and stops updating it when ``lk.transcription_final`` is ``"true"``). Finals
are also sent as a JSON data message on ``interpreter.captions``. Names are those of
:mod:`captions.protocol`. LiveKit is only a type here: this module works on any object with the
``rtc.LocalParticipant`` methods it calls.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from captions import protocol as p
from captions.segments import Caption
from captions.store import Meeting

if TYPE_CHECKING:
    from livekit import rtc

__all__ = ["CaptionPublisher", "data_message", "meeting_of", "stream_attributes"]

logger = logging.getLogger("captions")


def stream_attributes(caption: Caption) -> dict[str, str]:
    """Attributes of the ``lk.transcription`` text stream carrying ``caption``."""
    return {
        p.CAPTION_SEGMENT_ID: caption.segment_id,
        p.CAPTION_SOURCE_SEGMENT_ID: caption.source_segment_id,
        p.CAPTION_TRACK_ID: caption.track_sid,
        p.CAPTION_FINAL: "true" if caption.final else "false",
        p.CAPTION_LANGUAGE: caption.language,
        p.CAPTION_SOURCE_LANGUAGE: caption.source_language,
        p.CAPTION_TRANSLATED: "true" if caption.translated else "false",
        p.CAPTION_START: f"{caption.start:.3f}",
        p.CAPTION_END: f"{caption.end:.3f}",
        p.CAPTION_WALL_TIME: f"{caption.wall_time:.3f}",
    }


def data_message(caption: Caption) -> str:
    """The compact JSON form (topic ``interpreter.captions``), for clients that do not read
    text streams."""
    return json.dumps(
        {
            "id": caption.segment_id,
            "source_id": caption.source_segment_id,
            "speaker": caption.speaker_identity,
            "name": caption.speaker_name,
            "track": caption.track_sid,
            "language": caption.language,
            "source_language": caption.source_language,
            "translated": caption.translated,
            "final": caption.final,
            "text": caption.text,
            "start": round(caption.start, 3),
            "end": round(caption.end, 3),
            "wall_time": round(caption.wall_time, 3),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def meeting_of(room: rtc.Room) -> Meeting:
    """The meeting of a connected room: its sid, name and creation time."""
    sid = await room.sid
    try:
        created = room.creation_time.timestamp()
    except (OverflowError, OSError, ValueError):
        created = 0.0
    return Meeting(room_sid=sid, room_name=room.name, started_at=created if created > 0 else None)


class CaptionPublisher:
    """Sends :class:`Caption` updates from a translator agent, attributed to the speaker."""

    def __init__(self, *, participant: rtc.LocalParticipant) -> None:
        self._participant = participant

    async def publish(self, caption: Caption) -> None:
        writer = await self._participant.stream_text(
            topic=p.TOPIC_TRANSCRIPTION,
            attributes=stream_attributes(caption),
            sender_identity=caption.speaker_identity,
        )
        await writer.write(caption.text)
        await writer.aclose()
        if caption.final:
            await self._participant.publish_data(
                data_message(caption).encode(), reliable=True, topic=p.TOPIC_CAPTIONS
            )
        logger.debug(
            "caption published",
            extra={
                "segment_id": caption.segment_id,
                "language": caption.language,
                "final": caption.final,
            },
        )
