"""The languages package: normalisation, names, text detection and capability maps."""

from __future__ import annotations

import dataclasses
import random
import threading

import pytest
from langdetect.detector_factory import DetectorFactory

from interpreter.errors import UnknownLanguageError, UnsupportedLanguageError
from languages import (
    WHISPER_LANGUAGES,
    Capabilities,
    Detection,
    Language,
    all_languages,
    alpha3,
    covers,
    detect_language,
    detectable_languages,
    english_name,
    matches,
    merge,
    native_name,
    normalize_language,
    pairs_among,
    primary,
    region_of,
    script_of,
    whisper_code,
)

# faster-whisper 1.2.1 tokenizer's language codes, written out so the table is checked
# against Whisper's own list without importing the model package.
WHISPER_CODES = (
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha "
    "haw he hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr "
    "ms mt my ne nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg "
    "th tk tl tr tt uk ur uz vi yi yo zh yue"
).split()


# --- normalisation: accepted forms ------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # BCP-47 in any case and with either separator
        ("es", "es"),
        ("ES", "es"),
        ("  es \n", "es"),
        ("es-ES", "es-ES"),
        ("es_es", "es-ES"),
        ("ES_es", "es-ES"),
        ("pt-br", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("zh-hans", "zh-Hans"),
        ("ZH-HANT-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("en-US", "en-US"),
        # ISO 639-2/3, terminology and bibliographic forms
        ("spa", "es"),
        ("fra", "fr"),
        ("fre", "fr"),
        ("deu", "de"),
        ("ger", "de"),
        ("zho", "zh"),
        ("chi", "zh"),
        ("nld", "nl"),
        ("dut", "nl"),
        ("cym", "cy"),
        ("wel", "cy"),
        ("eng", "en"),
        ("SPA-mx", "es-MX"),
        # deprecated codes and macrolanguage members
        ("iw", "he"),
        ("in", "id"),
        ("ji", "yi"),
        ("jw", "jv"),
        ("mo", "ro"),
        ("sh", "sr-Latn"),
        ("fil", "tl"),
        ("cmn", "zh"),
        ("zh-yue", "yue"),
        ("zh-cmn-Hans-CN", "zh-Hans-CN"),
        # Norwegian: Bokmål under every name, Nynorsk apart
        ("nb", "nb"),
        ("no", "nb"),
        ("nor", "nb"),
        ("nob", "nb"),
        ("no-NO", "nb-NO"),
        ("nn", "nn"),
        ("nno", "nn"),
        # English and native names, case- and accent-insensitive
        ("Spanish", "es"),
        ("spanish", "es"),
        ("español", "es"),
        ("ESPAÑOL", "es"),
        ("espanol", "es"),
        ("Castilian", "es"),
        ("français", "fr"),
        ("Francais", "fr"),
        ("Deutsch", "de"),
        ("Farsi", "fa"),
        ("Norwegian", "nb"),
        ("norsk bokmål", "nb"),
        ("Nynorsk", "nn"),
        ("中文", "zh"),
        ("日本語", "ja"),
        ("Русский", "ru"),
        ("Lao", "lo"),
        ("  Tiếng  Việt ", "vi"),
        ("tieng viet", "vi"),
        # names with a region or script
        ("Portuguese (Brazil)", "pt-BR"),
        ("português (Brasil)", "pt-BR"),
        ("PORTUGUES (BRASIL)", "pt-BR"),
        ("Spanish (Mexico)", "es-MX"),
        ("English (US)", "en-US"),
        ("Chinese (Traditional, Taiwan)", "zh-Hant-TW"),
        ("中文（简体）", "zh-Hans"),
        # scripts the language is always written in are dropped
        ("es-Latn-ES", "es-ES"),
        ("ru-Cyrl", "ru"),
        ("sr-Latn", "sr-Latn"),
        # common mistakes, variants and extensions
        ("en-UK", "en-GB"),
        ("ca-ES-valencia", "ca-ES"),
        ("de-DE-1996", "de-DE"),
        ("en-US-u-ca-gregory", "en-US"),
        ("en-x-private", "en"),
    ],
)
def test_accepted_forms_normalise_to_one_canonical_tag(given: str, expected: str) -> None:
    assert normalize_language(given) == expected


def test_normalisation_is_idempotent_for_every_known_tag() -> None:
    for tag in all_languages(variants=True):
        assert normalize_language(tag) == tag


def test_every_whisper_language_is_known_and_maps_back_to_its_whisper_token() -> None:
    assert len(WHISPER_CODES) == 100
    for code in WHISPER_CODES:
        lang = normalize_language(code)
        assert lang in WHISPER_LANGUAGES
        assert whisper_code(lang) == code
    assert len(WHISPER_LANGUAGES) == 100
    assert whisper_code("nb-NO") == "no"
    assert whisper_code("ga") is None


def test_every_known_language_has_names_and_an_iso_639_3_code() -> None:
    for tag in all_languages():
        assert english_name(tag) and native_name(tag)
        assert len(alpha3(tag)) == 3
        assert normalize_language(alpha3(tag)) == tag


# --- normalisation: rejections ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("xx", "'xx'"),
        ("klingon", "'klingon'"),
        ("tlh", "'tlh'"),
        ("i-klingon", "'i-klingon'"),
        ("e", "too short"),
        ("", "empty"),
        ("   ", "empty"),
        ("es-!!", "'!!'"),
        ("es-XX", "'XX' is not a known region"),
        ("es-Abcd", "'Abcd' is not a known script"),
        ("es--ES", "bad subtag"),
        ("es-ES-ES", "'ES'"),
        ("en-u", "extension 'u' has no subtags"),
        ("es-verylongsubtag", "'verylongsubtag'"),
        ("123", "'123'"),
        ("Portuguese (Narnia)", "'Portuguese (Narnia)'"),
    ],
)
def test_nonsense_is_rejected_with_a_message_saying_what_was_given(given: str, says: str) -> None:
    with pytest.raises(UnknownLanguageError) as caught:
        normalize_language(given)
    assert says in str(caught.value)
    assert caught.value.retryable is False
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("given", "suggested"),
    [("Spanisch", "Spanish (es)"), ("Portugese", "Portuguese (pt)"), ("englsh", "English (en)")],
)
def test_misspelt_names_get_a_suggestion(given: str, suggested: str) -> None:
    with pytest.raises(UnknownLanguageError, match="did you mean") as caught:
        normalize_language(given)
    assert suggested in str(caught.value)


def test_nothing_is_suggested_when_nothing_is_close() -> None:
    for given in ("klingon", "xx", "qqqqqq"):
        with pytest.raises(UnknownLanguageError) as caught:
            normalize_language(given)
        assert "did you mean" not in str(caught.value)


def test_non_string_input_is_an_unknown_language() -> None:
    with pytest.raises(UnknownLanguageError):
        normalize_language(None)  # type: ignore[arg-type]


# --- helpers ---------------------------------------------------------------------------------


def test_primary_strips_script_and_region() -> None:
    assert primary("pt-BR") == "pt"
    assert primary("zh-Hant-TW") == "zh"
    assert primary("Portuguese (Brazil)") == "pt"
    assert primary("yue-HK") == "yue"


def test_matches_compares_languages_not_regions() -> None:
    assert matches("pt-BR", "pt-PT")
    assert not matches("zh-Hans", "zh-TW")  # Simplified vs Traditional (region-implied)
    assert matches("no", "nb")
    assert matches("iw", "he-IL")
    assert not matches("nb", "nn")
    assert not matches("es", "pt")
    assert not matches("zh", "yue")


def test_script_and_region_of_a_tag() -> None:
    assert script_of("zh-TW") == "Hant"
    assert script_of("zh-CN") == "Hans"
    assert script_of("zh-Hant-CN") == "Hant"
    assert script_of("zh") is None
    assert script_of("sr") is None
    assert script_of("sh") == "Latn"
    assert script_of("en") == "Latn"
    assert region_of("es-419") == "419"
    assert region_of("pt-BR") == "BR"
    assert region_of("zh-Hans") is None
    assert region_of("en") is None


def test_alpha3_gives_the_terminology_code() -> None:
    assert alpha3("es") == "spa"
    assert alpha3("fre") == "fra"
    assert alpha3("pt-BR") == "por"
    assert alpha3("no") == "nob"


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "english", "native"),
    [
        ("es", "Spanish", "español"),
        ("pt-BR", "Portuguese (Brazil)", "português (Brasil)"),
        ("pt-PT", "Portuguese (Portugal)", "português (Portugal)"),
        ("zh-Hans", "Chinese (Simplified)", "中文（简体）"),
        ("zh-Hant-TW", "Chinese (Traditional, Taiwan)", "中文（繁體）"),
        ("es-419", "Spanish (Latin America)", "español (Latinoamérica)"),
        ("de-CH", "German (Switzerland)", "Deutsch (Schweiz)"),
        ("ru-RU", "Russian (Russia)", "русский"),
        ("de-LI", "German", "Deutsch"),
        ("no", "Norwegian Bokmål", "norsk bokmål"),
        ("ja", "Japanese", "日本語"),
    ],
)
def test_english_and_native_names(tag: str, english: str, native: str) -> None:
    assert english_name(tag) == english
    assert native_name(tag) == native


def test_every_picker_name_reads_back_as_its_tag() -> None:
    for tag in all_languages(variants=True):
        assert normalize_language(english_name(tag)) == tag
        assert normalize_language(native_name(tag)) == tag


def test_all_languages_is_sorted_by_english_name_and_optionally_has_variants() -> None:
    base = all_languages()
    assert len(base) >= 100
    names = [english_name(tag).casefold() for tag in base]
    assert names == sorted(names)
    assert {"en", "es", "zh", "yue", "haw"} <= set(base)
    assert "pt-BR" not in base
    with_variants = all_languages(variants=True)
    assert {"pt-BR", "pt-PT", "zh-Hans", "zh-Hant", "es-419"} <= set(with_variants)
    assert set(base) < set(with_variants)


def test_names_of_unknown_languages_raise() -> None:
    with pytest.raises(UnknownLanguageError):
        english_name("xx")
    with pytest.raises(UnknownLanguageError):
        native_name("klingon")


# --- text detection --------------------------------------------------------------------------

SENTENCES = {
    "en": "Thank you all for coming today, we will start the meeting now.",
    "es": "Gracias a todos por venir hoy, vamos a empezar la reunión ahora.",
    "fr": "Merci à tous d'être venus aujourd'hui, nous allons commencer la réunion.",
    "de": "Vielen Dank, dass Sie heute gekommen sind, wir beginnen jetzt die Sitzung.",
    "pt": "Obrigado a todos por terem vindo hoje, vamos começar a reunião agora.",
    "ru": "Спасибо всем, что пришли сегодня, мы начинаем совещание.",
    "ja": "今日はお集まりいただきありがとうございます。",
    "zh-CN": "谢谢大家今天来参加会议，我们现在开始。",
}


@pytest.mark.parametrize(("lang", "text"), list(SENTENCES.items()))
def test_detects_the_language_of_a_sentence(lang: str, text: str) -> None:
    result = detect_language(text)
    assert result is not None
    assert result.language == lang
    assert result.probability > 0.9
    assert not result.from_prior


def test_detection_is_deterministic_whatever_the_global_random_state() -> None:
    text = "vamos a empezar ahora"  # a close call between Spanish and Portuguese
    first = detect_language(text)
    random.seed(12345)
    saved = DetectorFactory.seed
    DetectorFactory.seed = 987
    try:
        again = [detect_language(text) for _ in range(5)]
    finally:
        DetectorFactory.seed = saved
    assert all(result == first for result in again)


def test_detection_is_deterministic_across_threads() -> None:
    text = SENTENCES["fr"]
    expected = detect_language(text)
    results: list[Detection | None] = []

    def run() -> None:
        results.extend(detect_language(text) for _ in range(20))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80
    assert all(result == expected for result in results)


def test_detection_is_restricted_to_the_allowed_languages() -> None:
    # Dutch text in a room of English, French and Spanish speakers: English is closest.
    text = "het budget is vorige week goedgekeurd door de raad"
    unrestricted = detect_language(text)
    assert unrestricted is not None and unrestricted.language in {"nl", "af"}
    restricted = detect_language(text, allowed=["en", "fr", "es"])
    assert restricted is not None
    assert restricted.language in {"en", "fr", "es"}


def test_detection_answers_with_the_allowed_tag_of_the_language() -> None:
    result = detect_language(SENTENCES["pt"], allowed=["pt-BR", "en"])
    assert result is not None and result.language == "pt-BR"
    chinese = detect_language(SENTENCES["zh-CN"], allowed=["zh-Hant", "en"])
    assert chinese is not None and chinese.language == "zh-Hant"
    assert chinese.probability > 0.9


def test_langdetect_codes_come_back_normalised() -> None:
    detectable = detectable_languages()
    assert {"zh-CN", "zh-TW", "nb", "he", "en"} <= detectable
    assert all(normalize_language(lang) == lang for lang in detectable)
    norwegian = detect_language("Takk alle sammen for at dere kom hit i dag til møtet")
    assert norwegian is not None and norwegian.language == "nb"


def test_prior_decides_a_close_call_but_not_a_clear_one() -> None:
    close = "vamos a empezar ahora"  # reads slightly more Portuguese than Spanish
    without = detect_language(close, allowed=["es", "pt", "en"])
    assert without is not None and without.language == "pt" and without.probability < 0.8
    favoured = detect_language(close, allowed=["es", "pt", "en"], prior="es")
    assert favoured is not None and favoured.language == "es"
    clear = detect_language(SENTENCES["fr"], allowed=["es", "fr", "en"], prior="es")
    assert clear is not None and clear.language == "fr"


def test_short_text_returns_the_prior() -> None:
    assert detect_language("sí", prior="es") == Detection(Language("es"), 0.0, from_prior=True)
    assert detect_language("ok thanks", prior="pt-br") == Detection(
        Language("pt-BR"), 0.0, from_prior=True
    )
    assert detect_language("谢谢", prior="zh") == Detection(Language("zh"), 0.0, from_prior=True)
    # Three characters of Chinese are three words: detected, not assumed.
    chinese = detect_language("谢谢你们大家", prior="ja")
    assert chinese is not None and not chinese.from_prior


def test_short_text_without_a_prior_is_still_detected() -> None:
    result = detect_language("Danke schön")
    assert result is not None and not result.from_prior


def test_text_without_letters_gives_none() -> None:
    assert detect_language("") is None
    assert detect_language("   ") is None
    assert detect_language("1234 !! 56", prior="es") is None


def test_no_detectable_allowed_language_falls_back_to_the_prior() -> None:
    # langdetect has no profile for Cantonese or Hawaiian.
    text = "Aloha kākou, mahalo nui loa no ko ʻoukou hele ʻana mai i kēia lā."
    assert detect_language(text, allowed=["haw", "yue"]) is None
    assert detect_language(text, allowed=["haw"], prior="haw") == Detection(
        Language("haw"), 0.0, from_prior=True
    )


def test_detection_rejects_unknown_codes_and_bad_weights() -> None:
    with pytest.raises(UnknownLanguageError):
        detect_language(SENTENCES["en"], allowed=["en", "klingon"])
    with pytest.raises(UnknownLanguageError):
        detect_language(SENTENCES["en"], prior="xx")
    with pytest.raises(ValueError):
        detect_language(SENTENCES["en"], prior="en", prior_weight=0.0)


# --- capabilities ----------------------------------------------------------------------------

STT = Capabilities.of(recognise=["en", "es", "pt", "zh"])
MT = Capabilities.of(translate=[("en", "es"), ("es", "en"), ("es", "pt"), ("en", "zh-Hans")])
TTS = Capabilities.of(voice=["en-US", "es", "zh-Hans"])
ALL = merge(STT, MT, TTS)


def test_build_from_any_accepted_form() -> None:
    caps = Capabilities.of(recognise=["Spanish"], translate=[("eng", "es_MX")], voice=["iw"])
    assert caps.recognise == {"es"}
    assert caps.translate == {("en", "es-MX")}
    assert caps.voice == {"he"}
    with pytest.raises(UnknownLanguageError):
        Capabilities.of(voice=["klingon"])


def test_merge_supports_what_any_map_supports() -> None:
    assert ALL.recognise == STT.recognise
    assert ALL.translate == MT.translate
    assert ALL.voice == TTS.voice
    assert merge() == Capabilities()
    extra = merge(ALL, Capabilities.of(voice=["fr"]))
    assert extra.can_voice("fr") and not ALL.can_voice("fr")


def test_regions_do_not_limit_support_but_scripts_do() -> None:
    assert ALL.can_recognise("pt-BR")
    assert ALL.can_recognise("es-419")
    assert not ALL.can_recognise("fr")
    assert ALL.can_voice("en-GB")  # an American voice serves British listeners
    assert ALL.can_voice("en")
    assert ALL.can_voice("zh-CN")
    assert not ALL.can_voice("zh-TW")  # Simplified voice data, Traditional listeners
    assert ALL.can_translate("en-GB", "es-MX")
    assert ALL.can_translate("en", "zh")
    assert not ALL.can_translate("en", "zh-Hant")
    assert not ALL.can_translate("pt", "es")
    assert covers("pt", "pt-BR") and covers("pt-BR", "pt")
    assert not covers("zh-Hans", "zh-TW")
    assert not covers("nb", "nn")


def test_targets_for_lists_the_languages_a_source_reaches() -> None:
    assert ALL.targets_for("en") == {"es", "zh-Hans"}
    assert ALL.targets_for("es-AR") == {"en", "pt"}
    assert ALL.targets_for("fr") == frozenset()
    assert ALL.sources_for("en") == {"es"}


def test_check_pair_names_the_languages_and_offers_the_reachable_targets() -> None:
    ALL.check_pair("en", "es-ES")
    with pytest.raises(UnsupportedLanguageError) as caught:
        ALL.check_pair("es", "fr")
    message = str(caught.value)
    assert "Spanish (es)" in message and "French (fr)" in message
    assert "English (en)" in message and "Portuguese (pt)" in message
    assert caught.value.alternatives == ("en", "pt")
    assert caught.value.retryable is False


def test_check_pair_from_an_untranslatable_source_offers_sources_for_the_target() -> None:
    with pytest.raises(UnsupportedLanguageError) as caught:
        ALL.check_pair("eu", "en")
    assert "Basque (eu)" in str(caught.value)
    assert caught.value.alternatives == ("es",)
    with pytest.raises(UnsupportedLanguageError) as nowhere:
        ALL.check_pair("eu", "ja")
    assert "Japanese (ja)" in str(nowhere.value)
    assert nowhere.value.alternatives == ("en", "es")


def test_check_voice_and_recognise_name_the_language_and_the_alternatives() -> None:
    ALL.check_voice("en-GB")
    with pytest.raises(UnsupportedLanguageError) as caught:
        ALL.check_voice("de-AT")
    message = str(caught.value)
    assert "German (Austria) (de-AT)" in message
    assert "English (United States) (en-US)" in message
    assert caught.value.alternatives == ("en-US", "es", "zh-Hans")
    ALL.check_recognise("zh-TW")
    with pytest.raises(UnsupportedLanguageError, match=r"Japanese \(ja\)"):
        ALL.check_recognise("ja")


def test_pairs_among_links_every_two_different_languages() -> None:
    pairs = pairs_among(["en", "fr", "es", "pt-BR", "pt-PT"])
    assert ("en", "fr") in pairs and ("fr", "en") in pairs
    assert ("pt-BR", "es") in pairs
    assert ("pt-BR", "pt-PT") not in pairs
    assert all(a != b for a, b in pairs)
    assert len(pairs) == 3 * 4 + 2 * 3


def test_capabilities_are_immutable_and_hashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ALL.voice = frozenset()  # type: ignore[misc]
    assert hash(ALL) == hash(merge(TTS, MT, STT))
    with pytest.raises(TypeError):
        Capabilities(frozenset())  # type: ignore[call-arg]
