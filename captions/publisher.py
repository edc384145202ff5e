"""Publishing captions into a LiveKit room.

Each update is one short text stream on ``lk.transcription`` carrying the whole text of the
segment (LiveKit's convention for speech transcriptions: a client keeps the latest text per
``lk.segment_id`` and stops updating it when ``lk.transcription_final`` is ``"true"``). Finals
are also sent as a JSON data message on ``interpreter.captions``.
"""

from __future__ import annotations

import logging

from livekit import rtc

from captions.segments import CAPTIONS_DATA_TOPIC, TRANSCRIPTION_TOPIC, Caption

__all__ = ["CaptionPublisher"]

logger = logging.getLogger("captions")


class CaptionPublisher:
    """Sends :class:`Caption` updates from a translator agent, attributed to the speaker."""

    def __init__(self, *, participant: rtc.LocalParticipant) -> None:
        self._participant = participant

    async def publish(self, caption: Caption) -> None:
        writer = await self._participant.stream_text(
            topic=TRANSCRIPTION_TOPIC,
            attributes=caption.stream_attributes(),
            sender_identity=caption.speaker_identity,
        )
        await writer.write(caption.text)
        await writer.aclose()
        if caption.final:
            await self._participant.publish_data(
                caption.to_json().encode(), reliable=True, topic=CAPTIONS_DATA_TOPIC
            )
        logger.debug(
            "caption published",
            extra={
                "segment_id": caption.segment_id,
                "language": caption.language,
                "final": caption.final,
            },
        )
