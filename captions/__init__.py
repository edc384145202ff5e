"""What was said in a room: the caption model, live captions (wire format and publishing over
LiveKit), the room protocol, and stored transcripts (store, schema, exports).

A leaf package: it imports only ``languages``, and importing it loads neither the LiveKit RTC
library nor the database driver until a module that needs them is imported.
"""

from captions.errors import CaptionsError, TranscriptNotFoundError, TranscriptStoreError
from captions.segments import Caption

__all__ = ["Caption", "CaptionsError", "TranscriptNotFoundError", "TranscriptStoreError"]
