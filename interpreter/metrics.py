"""Prometheus metrics of the translation pipeline (served on the worker's metrics port).

Every histogram measures one stage, in seconds, from the end of the source speech (audio
time mapped to the wall clock) unless its help text says otherwise. Labels carry languages
only, never speech text or names.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CAPTION_PUBLISHED",
    "FIRST_AUDIO",
    "GLOSSARY_MISSES",
    "GLOSSARY_TERMS",
    "PROVIDER_FALLBACKS",
    "PROVIDER_LATENCY",
    "PROVIDER_SERVED",
    "RETRIES",
    "STAGE_ERRORS",
    "STT_FINAL",
    "TAKEOVER_EVENTS",
    "TAKEOVER_LATENCY",
    "TASK_FAILURES",
    "TRANSCRIPT_BEHIND",
    "TRANSCRIPT_LOST",
    "TRANSCRIPT_PENDING",
    "TRANSLATION_DONE",
    "UNITS",
    "VOICE_SKIPPED",
    "VOICE_SPEEDUP",
]

_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0)
_FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)

STT_FINAL = Histogram(
    "interpreter_stt_final_seconds",
    "end of source speech -> final transcript of the unit",
    ["source_language"],
    buckets=_BUCKETS,
)
TRANSLATION_DONE = Histogram(
    "interpreter_translation_done_seconds",
    "end of source speech -> translation done",
    ["target_language"],
    buckets=_BUCKETS,
)
CAPTION_PUBLISHED = Histogram(
    "interpreter_caption_published_seconds",
    "end of source speech -> caption final published",
    ["language", "translated"],
    buckets=_BUCKETS,
)
FIRST_AUDIO = Histogram(
    "interpreter_first_audio_seconds",
    "end of source speech -> first translated audio frame captured on the language track",
    ["target_language"],
    buckets=_BUCKETS,
)
GLOSSARY_TERMS = Counter(
    "interpreter_glossary_terms",
    "glossary terms found in source units, each a term the translation had to contain",
    ["target_language"],
)
GLOSSARY_MISSES = Counter(
    "interpreter_glossary_misses",
    "glossary terms whose required target the translation did not contain",
    ["target_language"],
)
UNITS = Counter("interpreter_units_total", "translation units committed", ["source_language"])
VOICE_SKIPPED = Counter(
    "interpreter_voice_skipped_total",
    "units not voiced because they were already too late (their captions still went out)",
    ["target_language"],
)
VOICE_SPEEDUP = Counter(
    "interpreter_voice_speedup_total",
    "units voiced faster than normal to catch up with the speaker",
    ["target_language"],
)
STAGE_ERRORS = Counter(
    "interpreter_stage_errors_total",
    "failures of one stage for one language (the other languages carry on)",
    ["stage", "language"],
)
TASK_FAILURES = Counter(
    "interpreter_task_failures_total",
    "background tasks (demand loop, lanes, voice loops, speaker audio, orphan sweeps) that"
    " ended with an error",
    ["task"],
)
RETRIES = Counter(
    "interpreter_retries_total",
    "failed attempts of an operation that is retried (publishing a track, setting attributes)",
    ["operation"],
)
TAKEOVER_EVENTS = Counter(
    "interpreter_takeover_events_total",
    "a translator's voice for a language silenced (a human interpreter voices it) or resumed"
    " (the human muted past the grace, released, unpublished or left); cause says which",
    ["language", "event", "cause"],
)
TAKEOVER_LATENCY = Histogram(
    "interpreter_takeover_latency_seconds",
    "room event (or the end of a mute or release grace) -> machine voice silenced or resumed",
    ["event"],
    buckets=_FAST_BUCKETS,
)
PROVIDER_SERVED = Counter(
    "interpreter_provider_served_total",
    "requests a provider of a stage's chain answered (a unit voiced, a unit translated)",
    ["stage", "provider", "language"],
)
PROVIDER_FALLBACKS = Counter(
    "interpreter_provider_fallbacks_total",
    "a provider failed a request and the next one of the chain was tried; reason: refused,"
    " auth, status, timeout, stall, partial, malformed, connection, resting (not asked during"
    " its cool-down after a failure), error; STT also closed (the socket closed mid-stream),"
    " ended (the stream ended before its audio)",
    ["stage", "provider", "reason"],
)
PROVIDER_LATENCY = Histogram(
    "interpreter_provider_latency_seconds",
    "request sent to one provider -> its complete answer (successful requests only)",
    ["stage", "provider"],
    buckets=_BUCKETS,
)
TRANSCRIPT_PENDING = Gauge(
    "interpreter_transcript_pending",
    "final captions published but not yet stored in the transcript database (it is away or"
    " slow: they are retried in order until it answers)",
    multiprocess_mode="livesum",
)
TRANSCRIPT_LOST = Counter(
    "interpreter_transcript_lost_total",
    "final captions never stored; reason: limit (too many pending while the database was"
    " away), refused (the database refused the line), shutdown (still pending when the agent"
    " ended)",
    ["reason"],
)
TRANSCRIPT_BEHIND = Histogram(
    "interpreter_transcript_behind_seconds",
    "first transcript write that failed or stalled -> every pending line stored (seconds)",
    buckets=(0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0),
)
