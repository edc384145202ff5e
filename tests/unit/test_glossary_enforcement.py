"""A glossary applied to one unit: the required terms (number agreed) and the post-check."""

from __future__ import annotations

import pytest

from glossary import parse_glossary
from glossary.enforcement import check_terms, engine_terms, required_terms
from glossary.matching import plural_of
from languages import Language

EN, ES, FR, PT, IT, DE = (Language(c) for c in ("en", "es", "fr", "pt", "it", "de"))

GLOSSARY = parse_glossary(
    b"en,es,fr,keep\n"
    b"deliverable,entregable,livrable,\n"
    b"roadmap,hoja de ruta,feuille de route,\n"
    b"data center,centro de datos,centre de donn\xc3\xa9es,\n"
    b"Nimbus,,,yes\n",
    "csv",
)


@pytest.mark.parametrize(
    ("term", "language", "plural"),
    [
        ("entregable", ES, "entregables"),
        ("hoja de ruta", ES, "hojas de ruta"),
        ("canción", ES, "canciones"),
        ("luz", ES, "luces"),
        ("data center", EN, "data centers"),
        ("policy", EN, "policies"),
        ("KPI", EN, "KPIs"),
        ("feuille de route", FR, "feuilles de route"),
        ("journal", FR, "journaux"),
        ("relatório", PT, "relatórios"),
        ("canção", PT, "canções"),
        ("progetto", IT, "progetti"),
        ("Bericht", DE, "Bericht"),  # German plurals are not spelling rules: left as written
    ],
)
def test_plural_of_changes_the_head_word_only(term: str, language: Language, plural: str) -> None:
    assert plural_of(term, language) == plural


def test_terms_found_in_a_unit_with_their_targets_in_the_number_said() -> None:
    pair = GLOSSARY.pair(EN, ES)
    found = required_terms(pair, "The Deliverables of the NIMBUS roadmap, and one deliverable.")
    assert [(t.source, t.target, t.keep) for t in found] == [
        ("Deliverables", "entregables", False),
        ("NIMBUS", "Nimbus", True),  # kept as the glossary writes it
        ("roadmap", "hoja de ruta", False),
        ("deliverable", "entregable", False),
    ]
    assert engine_terms(found) == {
        "Deliverables": "entregables",
        "NIMBUS": "Nimbus",
        "roadmap": "hoja de ruta",
        "deliverable": "entregable",
    }


def test_romance_plurals_are_recognised_on_the_first_word() -> None:
    pair = GLOSSARY.pair(ES, EN)
    found = required_terms(pair, "Los centros de datos y las hojas de ruta.")
    assert [(t.source, t.target) for t in found] == [
        ("centros de datos", "data centers"),
        ("hojas de ruta", "roadmaps"),
    ]
    assert [t.target for t in required_terms(GLOSSARY.pair(ES, FR), "Tres entregables.")] == [
        "livrables"
    ]


def test_a_unit_without_terms_requires_nothing() -> None:
    assert required_terms(GLOSSARY.pair(EN, ES), "Nothing to see here.") == ()
    assert check_terms((), "Nada.", ES) == ()


def test_the_check_finds_targets_case_insensitively_in_either_number() -> None:
    required = required_terms(GLOSSARY.pair(EN, ES), "The deliverable of Nimbus and the roadmap.")
    checked = check_terms(required, "El Entregable de nimbus y la ruta.", ES)
    assert [(c.term.target, c.found) for c in checked] == [
        ("entregable", True),
        ("Nimbus", True),
        ("hoja de ruta", False),
    ]
    plural = required_terms(GLOSSARY.pair(EN, ES), "Two deliverables.")
    assert check_terms(plural, "Dos entregable.", ES)[0].found  # the term is there, number aside


def test_the_check_is_whole_words() -> None:
    required = required_terms(GLOSSARY.pair(EN, ES), "The deliverable.")
    assert not check_terms(required, "Los noentregables.", ES)[0].found


def test_a_target_counts_only_where_it_stands_on_its_own() -> None:
    glossary = parse_glossary(b"en,es\nroute,ruta\nroadmap,hoja de ruta\n", "csv")
    required = required_terms(glossary.pair(EN, ES), "The roadmap and the route.")
    both = check_terms(required, "La hoja de ruta y la ruta.", ES)
    assert [c.found for c in both] == [True, True]
    # "ruta" inside "hoja de ruta" is the roadmap, not the route
    assert [c.found for c in check_terms(required, "La hoja de ruta.", ES)] == [True, False]


def test_the_vocabulary_of_a_language_lists_kept_names_first() -> None:
    assert GLOSSARY.languages() == {EN, ES, FR}
    assert GLOSSARY.vocabulary(ES) == ("Nimbus", "entregable", "hoja de ruta", "centro de datos")
    assert GLOSSARY.vocabulary(DE) == ("Nimbus",)


def test_romance_words_agreeing_with_the_head_change_number_with_it() -> None:
    glossary = parse_glossary(b"en,es,fr\nstakeholder,parte interesada,partie prenante\n", "csv")
    found = required_terms(glossary.pair(ES, FR), "Las partes interesadas aprobaron.")
    assert [(t.source, t.target) for t in found] == [("partes interesadas", "parties prenantes")]
    found = required_terms(glossary.pair(EN, ES), "All stakeholders agree.")
    assert [t.target for t in found] == ["partes interesadas"]


def test_an_elided_article_does_not_hide_a_term() -> None:
    glossary = parse_glossary(b"es,fr\ntaller,atelier\n", "csv")
    required = required_terms(glossary.pair(ES, FR), "El taller.")
    assert check_terms(required, "Le livrable de l'atelier.", FR)[0].found
    assert check_terms(required, "L’atelier commence.", FR)[0].found
    assert not check_terms(required, "Latelier.", FR)[0].found
