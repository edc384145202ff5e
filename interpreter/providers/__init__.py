"""Speech providers: livekit-agents STT, TTS and LLM implementations and their models."""
