from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from glossary import (
    MAX_BYTES,
    GlossaryError,
    format_of,
    load_glossary,
    number_variants,
    parse_glossary,
)
from interpreter.cli import main
from languages import Language

EN, ES, FR = Language("en"), Language("es"), Language("fr")

CSV = """en,es,fr,note,keep
deliverable,entregable,livrable,what we hand over,
data center,centro de datos,centre de données,,
Nimbus,,,our product,yes
"""

JSON = """{
  "terms": [
    {"en": "deliverable", "es": "entregable"},
    {"en": "budget", "es": "presupuesto", "note": "money, not time"}
  ],
  "keep": ["Nimbus", "Acme Cloud"]
}"""

TBX = """<?xml version="1.0" encoding="UTF-8"?>
<martif type="TBX-Basic" xml:lang="en">
 <text><body>
  <termEntry id="t1">
   <langSet xml:lang="en"><tig><term>deliverable</term></tig></langSet>
   <langSet xml:lang="es"><tig><term>entregable</term></tig></langSet>
  </termEntry>
  <termEntry id="t2">
   <descrip type="keep">yes</descrip>
   <langSet xml:lang="en"><tig><term>Nimbus</term></tig></langSet>
  </termEntry>
 </body></text>
</martif>
"""


def refused(data: str | bytes, fmt: str) -> list[str]:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(GlossaryError) as caught:
        parse_glossary(raw, fmt)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


# --- the three formats --------------------------------------------------------------------------


def test_csv_concepts_notes_and_do_not_translate_rows() -> None:
    g = parse_glossary(CSV.encode(), "csv")
    assert [dict(c.terms) for c in g.concepts] == [
        {"en": "deliverable", "es": "entregable", "fr": "livrable"},
        {"en": "data center", "es": "centro de datos", "fr": "centre de données"},
    ]
    assert g.concepts[0].note == "what we hand over" and g.concepts[0].line == 2
    assert g.keep == ("Nimbus",)
    assert len(g) == 3


def test_json_terms_and_keep_list() -> None:
    g = parse_glossary(JSON.encode(), "json")
    assert [c.term(ES) for c in g.concepts] == ["entregable", "presupuesto"]
    assert [c.line for c in g.concepts] == [3, 4]
    assert g.concepts[1].note == "money, not time"
    assert g.keep == ("Nimbus", "Acme Cloud")


def test_tbx_basic_entries() -> None:
    g = parse_glossary(TBX.encode(), "tbx")
    assert [dict(c.terms) for c in g.concepts] == [{"en": "deliverable", "es": "entregable"}]
    assert g.concepts[0].line == 4
    assert g.keep == ("Nimbus",)


def test_tbx_3_concept_entries_and_do_not_translate_notes() -> None:
    tbx = """<tbx type="TBX-Basic" xml:lang="en"><text><body>
<conceptEntry id="c1">
 <langSec xml:lang="en"><termSec><term>budget</term></termSec></langSec>
 <langSec xml:lang="fr"><termSec><term>budget</term></termSec></langSec>
 <langSec xml:lang="es"><termSec><term>presupuesto</term></termSec></langSec>
</conceptEntry>
<conceptEntry id="c2">
 <langSec xml:lang="en"><termSec><term>Acme Cloud</term>
  <termNote type="doNotTranslate">true</termNote></termSec></langSec>
</conceptEntry>
</body></text></tbx>"""
    g = parse_glossary(tbx.encode(), "tbx")
    assert [dict(c.terms) for c in g.concepts] == [
        {"en": "budget", "fr": "budget", "es": "presupuesto"}
    ]
    assert g.keep == ("Acme Cloud",)


def test_spreadsheet_exports_with_semicolons_or_tabs() -> None:
    for sep in (";", "\t"):
        g = parse_glossary(f"en{sep}es\nbudget{sep}presupuesto, anual\n".encode(), "csv")
        assert [dict(c.terms) for c in g.concepts] == [{"en": "budget", "es": "presupuesto, anual"}]


def test_a_byte_order_mark_and_crlf_are_fine() -> None:
    g = parse_glossary(b"\xef\xbb\xbf" + CSV.replace("\n", "\r\n").encode(), "csv")
    assert len(g.concepts) == 2 and g.keep == ("Nimbus",)


def test_the_format_comes_from_the_suffix_or_the_content_type() -> None:
    assert format_of("terms.CSV") == "csv"
    assert format_of("application/json; charset=utf-8") == "json"
    assert format_of("application/x-tbx") == "tbx"
    with pytest.raises(ValueError, match="cannot tell"):
        format_of("terms.txt")


# --- refused whole, every problem with its line -------------------------------------------------


def test_an_unknown_language_in_the_header() -> None:
    assert refused("en,xx\ndeliverable,foo\n", "csv") == [
        "line 1: unknown language 'xx': expected a BCP-47 code such as 'es' or 'pt-BR', "
        "or a name such as 'Spanish'"
    ]
    assert refused("en,es,EN\na,b,c\n", "csv") == ["line 1: language en has two columns"]
    problems = refused('{"terms": [\n{"en": "a", "zz": "b"}\n]}', "json")
    assert len(problems) == 1 and problems[0].startswith("line 2: unknown language 'zz'")


def test_empty_terms() -> None:
    assert refused("en,es\ndeliverable,\n,\n  ,entregable\n", "csv") == [
        "line 2: empty term: a concept needs terms in two languages (empty: es)",
        "line 4: empty term: a concept needs terms in two languages (empty: en)",
    ]  # line 3 is blank: skipped
    assert refused('{"keep": ["Nimbus",\n""]}', "json") == [
        "line 2: empty term: a do-not-translate row needs it"
    ]


def test_conflicting_duplicates_but_not_identical_ones() -> None:
    text = "en,es\nbudget,presupuesto\nBudget,Presupuesto\nbudget,cuenta\n"
    assert refused(text, "csv") == [
        "line 4: conflicting entries: 'budget' (en) is 'presupuesto' (es) on line 2 but "
        "'cuenta' here"
    ]
    kept_and_translated = "en,es,keep\nNimbus,,yes\nNimbus,Nube,\n"
    assert refused(kept_and_translated, "csv") == [
        "line 3: conflicting entries: 'Nimbus' is do-not-translate (line 2) but translated here"
    ]


def test_wrong_encoding_names_the_line() -> None:
    latin1 = "en,es\nbudget,presupuesto\ncanción,song\n".encode("latin-1")
    assert refused(latin1, "csv") == ["line 3: not UTF-8 text (byte 0xf3): save it as UTF-8"]


def test_a_file_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"en,es\n" + b"a,b\n" * (MAX_BYTES // 4 + 1))
    with pytest.raises(GlossaryError, match="file too large"):
        load_glossary(big)


def test_malformed_files_name_the_line() -> None:
    assert refused("en,es\na,b\nc,d,e\n", "csv") == ["line 3: 3 cells, but the header has 2"]
    assert refused('{"terms": [\n{"en": "a", "es": "b"}\n{"en": "c"}]}', "json") == [
        "line 3: malformed JSON: Expecting ',' delimiter (column 1)"
    ]
    problems = refused("<martif><termEntry>\n<langSet xml:lang='en'>\n</termEntry>", "tbx")
    assert problems == ["line 3: malformed TBX: mismatched tag"]
    assert refused("", "csv") == ["the file is empty"]
    assert refused('{"terms": []}', "json") == ["no terms in the file"]


def test_one_bad_row_refuses_the_whole_file_and_all_problems_are_listed() -> None:
    rows = ["en,es"] + [f"term{i},término{i}" for i in range(50)] + ["bad,", "worse,"]
    with pytest.raises(GlossaryError) as caught:
        parse_glossary("\n".join(rows).encode(), "csv")
    assert [p.line for p in caught.value.problems] == [52, 53]
    assert "2 problems" in caught.value.message


def test_ten_thousand_terms_load_in_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    terms = [{"en": f"term number {i}", "es": f"término número {i}"} for i in range(10_000)]
    path.write_text(json.dumps({"terms": terms}, indent=1), encoding="utf-8")
    started = time.perf_counter()
    g = load_glossary(path)
    g.pair(EN, ES)  # and its index for one direction
    assert time.perf_counter() - started < 1.0
    assert len(g) == 10_000


# --- matching -----------------------------------------------------------------------------------


def test_terms_are_found_whole_word_case_insensitive_singular_or_plural() -> None:
    g = parse_glossary(CSV.encode(), "csv")
    found = g.pair(EN, ES).find("The DELIVERABLES of our data centers, undeliverable, Nimbus.")
    assert [(f.text, f.value.target, f.value.keep) for f in found] == [
        ("DELIVERABLES", "entregable", False),
        ("data centers", "centro de datos", False),
        ("Nimbus", "Nimbus", True),
    ]
    back = g.pair(ES, EN).find("los entregables y los centros de datos")
    assert [(f.text, f.value.target) for f in back] == [
        ("entregables", "deliverable"),
        ("centros de datos", "data center"),
    ]
    # a language the concept lacks: only the kept terms are looked for
    assert [f.text for f in g.pair(EN, Language("de")).find("deliverable Nimbus")] == ["Nimbus"]


def test_symbols_are_part_of_a_term() -> None:
    g = parse_glossary(b"en,es\nC++,C++\n", "csv")
    assert [f.text for f in g.pair(EN, ES).find("C and C++ and C#")] == ["C++"]


@pytest.mark.parametrize(
    ("language", "singular", "plural"),
    [
        ("en", "deliverable", "deliverables"),
        ("en", "policy", "policies"),
        ("en", "process", "processes"),
        ("es", "entregable", "entregables"),
        ("es", "canción", "canciones"),
        ("es", "luz", "luces"),
        ("es", "reunión", "reuniones"),
        ("fr", "livrable", "livrables"),
        ("fr", "bureau", "bureaux"),
        ("fr", "journal", "journaux"),
        ("pt", "entregável", "entregáveis"),
        ("pt", "ação", "ações"),
        ("pt", "animal", "animais"),
        ("pt", "homem", "homens"),
        ("it", "progetto", "progetti"),
        ("it", "banca", "banche"),
        ("it", "chiave", "chiavi"),
        ("it", "riunione", "riunioni"),
        ("de", "Projekt", "Projekte"),
        ("de", "Lösung", "Lösungen"),
        ("de", "Kunde", "Kunden"),
    ],
)
def test_singular_and_plural_find_each_other(language: str, singular: str, plural: str) -> None:
    lang = Language(language)
    assert (plural.casefold(),) in number_variants(singular, lang)
    assert (singular.casefold(),) in number_variants(plural, lang)


def test_the_head_word_of_a_multiword_term_is_inflected() -> None:
    assert ("centros", "de", "datos") in number_variants("centro de datos", ES)
    assert ("data", "centers") in number_variants("data center", EN)
    assert ("centres", "de", "données") in number_variants("centre de données", FR)


# --- the command --------------------------------------------------------------------------------


def test_glossary_check_says_ok_or_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(CSV, encoding="utf-8")
    assert main(["glossary", "check", str(good)]) == 0
    assert "ok, 2 concepts (en 2, es 2, fr 2), 1 do-not-translate terms" in capsys.readouterr().out

    bad = tmp_path / "bad.txt"
    bad.write_text("en,es\nbudget,presupuesto\nbudget,cuenta\nfoo,\n", encoding="utf-8")
    assert main(["glossary", "check", "--format", "csv", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "refused, 2 problem(s)" in err
    assert "line 3: conflicting entries" in err and "line 4: empty term" in err
