"""What a pivot leg does to a unit's surface, and its repair (``translation/surface.py``)."""

from __future__ import annotations

import pytest

from interpreter.translation.surface import keep_names, restore_surface
from languages import Language

ES, EN, FR, PT = (Language(c) for c in ("es", "en", "fr", "pt"))


@pytest.mark.parametrize(
    ("source", "damaged", "target", "repaired"),
    [
        # Apertium's pt->es leg writes no opening mark
        (
            "Do we have enough money?",
            "Tenemos dinero suficiente?",
            ES,
            "¿Tenemos dinero suficiente?",
        ),
        # ... after a name the speaker addresses, the question opens after the comma
        ("Marie, what do you think?", "Marie, qué opinas?", ES, "Marie, ¿qué opinas?"),
        # ... and only the last sentence is the question
        (
            "I agree. Who wants it?",
            "Concuerdo. Quién lo quiere?",
            ES,
            "Concuerdo. ¿Quién lo quiere?",
        ),
        # a dropped question mark comes back
        ("Will it be online?", "Ce sera en ligne.", FR, "Ce sera en ligne?"),
        # a lower-cased sentence start takes the source's capital
        ("Good morning, everyone.", "buen día, todos.", ES, "Buen día, todos."),
        # a unit cut at a breath ends as the speaker left it
        (
            "I think we should hire two engineers",
            "Olá, contratar dois engenheiros,",
            PT,
            "Olá, contratar dois engenheiros",
        ),
        ("I agree with Peter,", "Estoy de acuerdo con Peter.", ES, "Estoy de acuerdo con Peter,"),
        # a missing full stop is added
        (
            "The budget is approved.",
            "El presupuesto es aprobado",
            ES,
            "El presupuesto es aprobado.",
        ),
        # words a leg wrote in capitals (Apertium es->fr) go back to lower case
        ("Thank you all for coming.", "GRÂCE À tous par venir.", FR, "Grâce à tous par venir."),
        (
            "We met, thank you all.",
            "Nos vimos, GRACIAS A todos.",
            ES,
            "Nos vimos, gracias a todos.",
        ),
        # a name a leg lower-cased gets its capitals back
        ("Ask Nimbus now.", "Pregunta a nimbus ahora.", ES, "Pregunta a Nimbus ahora."),
    ],
)
def test_restore_surface(source: str, damaged: str, target: Language, repaired: str) -> None:
    assert restore_surface(source, damaged, target=target) == repaired


def test_an_undamaged_output_is_left_as_it_is() -> None:
    for source, output, target in [
        ("¿Tenemos dinero?", "Do we have money?", EN),
        ("Est-ce qu'on peut ?", "¿Podemos?", ES),
        ("Thursday is fine for me.", "El jueves me va bien.", ES),
        ("before the summer starts.", "antes de que empiece el verano.", ES),
        ("80% of it.", "80 % de eso.", ES),
        ("The EU and the UN agree.", "La UE y la ONU están de acuerdo.", ES),
    ]:
        assert restore_surface(source, output, target=target) == output


def test_a_translated_given_name_is_kept_as_spoken() -> None:
    assert keep_names("I agree with Peter.", "Eu concordo com Pedro.") == ("Eu concordo com Peter.")
    assert keep_names("Peter, could you send it?", "Pedro, você poderia enviá-lo?") == (
        "Peter, você poderia enviá-lo?"
    )
    assert keep_names("O João chegou.", "John arrived.") == "João arrived."


def test_place_names_and_ordinary_words_are_translations_not_names() -> None:
    for source, output in [
        ("The new office in Lisbon.", "O novo escritório em Lisboa."),
        ("Perfect, thank you.", "Perfeito, obrigado."),
        ("Mark the date.", "Marque a data."),
        ("Pedro and Peter agree.", "Pedro e Peter concordam."),
    ]:
        assert keep_names(source, output) == output
