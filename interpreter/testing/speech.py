"""Scripted speech for the meeting tests: texts with reference translations, rendered with
espeak-ng (the voices Whisper base recognises best were chosen by ear and by WER)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sacrebleu

from interpreter.testing.audio import read_wav, speak_to_wav

SPANISH = [
    "Buenos días a todos. Hoy vamos a hablar del presupuesto del año que viene.",
    "Necesitamos más tiempo para terminar el proyecto.",
    "El equipo de ventas ha trabajado muy bien este mes.",
]
SPANISH_IN_ENGLISH = [
    "Good morning everyone. Today we are going to talk about next year's budget.",
    "We need more time to finish the project.",
    "The sales team has worked very well this month.",
]
ENGLISH = [
    "Thank you all for coming to the meeting today.",
    "The new office will open in the spring.",
    "Please send me the report before Friday.",
]
ENGLISH_IN_SPANISH = [
    "Gracias a todos por venir a la reunión hoy.",
    "La nueva oficina abrirá en la primavera.",
    "Por favor, envíame el informe antes del viernes.",
]


def render(sentences: list[str], voice: str, path: Path, *, gap: float = 0.8) -> np.ndarray:
    """The sentences spoken one after another with ``gap`` seconds between them, 16 kHz."""
    parts: list[np.ndarray] = []
    for i, sentence in enumerate(sentences):
        samples, _ = read_wav(speak_to_wav(sentence, path.with_suffix(f".{i}.wav"), voice=voice))
        parts += [samples, np.zeros(int(gap * 16000), dtype=np.float32)]
    return np.concatenate(parts)


def chrf(hypothesis: str, reference: str) -> float:
    return float(sacrebleu.sentence_chrf(hypothesis, [reference]).score)


MONOLOGUE = (
    "Buenos días a todos y bienvenidos a la reunión anual de la empresa. "
    "Este año hemos trabajado mucho y los resultados son muy buenos. "
    "Las ventas han crecido en todos los países donde estamos presentes. "
    "El equipo de producción ha mejorado la calidad de nuestros productos. "
    "Queremos dar las gracias a todas las personas que han hecho posible este trabajo. "
    "El próximo año vamos a abrir dos oficinas nuevas en el sur del país. "
    "También vamos a contratar a más de cien personas para el equipo técnico. "
    "Necesitamos más tiempo para terminar los proyectos más importantes. "
    "Por eso vamos a cambiar la forma de organizar las reuniones de cada semana. "
    "Cada equipo tendrá una persona responsable de coordinar el trabajo con los demás. "
    "Espero que todos podamos colaborar para conseguir estos objetivos. "
    "Ahora vamos a ver los números del presupuesto con más detalle. "
    "Los gastos de personal son la parte más grande del presupuesto. "
    "Los gastos de viaje han bajado mucho gracias a las reuniones en línea. "
    "Al final de la reunión vamos a responder a todas sus preguntas."
)


def render_monologue(path: Path) -> np.ndarray:
    """About a minute of Spanish in one breath (espeak's own short sentence pauses only)."""
    samples, _ = read_wav(speak_to_wav(MONOLOGUE, path, voice="es"))
    return samples
