"""Captions: the segment model, publishing over LiveKit, the transcript store and exports."""
