"""Wire-level fakes of the cloud speech and translation services, on loopback.

The official ``livekit.plugins.*`` classes talk to them unchanged (their endpoint knobs point
at ``127.0.0.1``), so tests run the real plugin code with no network and no keys. Each fake
can inject the failures a real service shows: connection refused, 401/403, 500, a body cut
mid-way, a stalled answer, a malformed one. (``interpreter.testing.fakes`` holds the fakes of
our own interfaces; a module cannot also be a package, hence this one.)

* :mod:`.azure_tts`: Azure Speech synthesis REST (``POST /cognitiveservices/v1``).
* :mod:`.openai_http`: OpenAI chat completions (SSE) and ``/audio/speech``.
* :mod:`.assemblyai_ws`: AssemblyAI Universal Streaming v3 (WebSocket ``/v3/ws``).
* :mod:`.azure_usp`: Azure Speech recognition's WebSocket protocol (USP), for the real native
  Speech SDK under ``azure.STT``.
* :mod:`.openai_stt`: OpenAI ``/audio/transcriptions``.
* :mod:`.tones`: the tone language those recognisers (and :class:`~.tones.ToneSTT`, a fake
  STT with failure knobs) really recognise from audio, so lost audio is a lost word.
"""
