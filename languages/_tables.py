"""Static language data: codes, names, aliases, regions and scripts.

Plain Python literals so nothing is downloaded or parsed at start-up. Codes follow ISO 639-1
(two letters) where one exists, otherwise ISO 639-3; ``alpha3`` is the ISO 639-2/T (= 639-3)
code and ``alpha3_b`` the ISO 639-2/B code where it differs. Native names are written the way
the language writes its own name (lower-case where the language does so, as CLDR does).
"""

from __future__ import annotations

from typing import NamedTuple


class LanguageRow(NamedTuple):
    """One language the system knows."""

    code: str
    """Canonical primary subtag (ISO 639-1 where one exists)."""
    alpha3: str
    """ISO 639-2/T and 639-3 code."""
    alpha3_b: str
    """ISO 639-2/B code where it differs from ``alpha3``, else empty."""
    english: str
    native: str
    aliases: tuple[str, ...]
    """Other names people use (English exonyms, older names, native variants)."""
    script: str
    """The script the language is written in when a tag omits it (IANA Suppress-Script), or
    empty when more than one script is in common use."""
    whisper: str
    """Whisper's language token code, or empty when Whisper does not know the language."""


_R = LanguageRow

LANGUAGES: tuple[LanguageRow, ...] = (
    # The 100 languages of Whisper's tokenizer.
    _R("af", "afr", "", "Afrikaans", "Afrikaans", (), "Latn", "af"),
    _R("am", "amh", "", "Amharic", "አማርኛ", (), "Ethi", "am"),
    _R("ar", "ara", "", "Arabic", "العربية", ("arabe",), "Arab", "ar"),
    _R("as", "asm", "", "Assamese", "অসমীয়া", (), "Beng", "as"),
    _R("az", "aze", "", "Azerbaijani", "azərbaycan", ("Azeri", "azərbaycan dili"), "", "az"),
    _R("ba", "bak", "", "Bashkir", "башҡорт теле", ("башҡорт",), "Cyrl", "ba"),
    _R("be", "bel", "", "Belarusian", "беларуская", ("Byelorussian",), "Cyrl", "be"),
    _R("bg", "bul", "", "Bulgarian", "български", (), "Cyrl", "bg"),
    _R("bn", "ben", "", "Bengali", "বাংলা", ("Bangla",), "Beng", "bn"),
    _R("bo", "bod", "tib", "Tibetan", "བོད་སྐད་", (), "Tibt", "bo"),
    _R("br", "bre", "", "Breton", "brezhoneg", (), "Latn", "br"),
    _R("bs", "bos", "", "Bosnian", "bosanski", (), "", "bs"),
    _R("ca", "cat", "", "Catalan", "català", ("Valencian", "valencià"), "Latn", "ca"),
    _R("cs", "ces", "cze", "Czech", "čeština", ("česky",), "Latn", "cs"),
    _R("cy", "cym", "wel", "Welsh", "Cymraeg", (), "Latn", "cy"),
    _R("da", "dan", "", "Danish", "dansk", (), "Latn", "da"),
    _R("de", "deu", "ger", "German", "Deutsch", (), "Latn", "de"),
    _R("el", "ell", "gre", "Greek", "Ελληνικά", ("Modern Greek",), "Grek", "el"),
    _R("en", "eng", "", "English", "English", (), "Latn", "en"),
    _R("es", "spa", "", "Spanish", "español", ("Castilian", "castellano"), "Latn", "es"),
    _R("et", "est", "", "Estonian", "eesti", ("eesti keel",), "Latn", "et"),
    _R("eu", "eus", "baq", "Basque", "euskara", (), "Latn", "eu"),
    _R("fa", "fas", "per", "Persian", "فارسی", ("Farsi",), "Arab", "fa"),
    _R("fi", "fin", "", "Finnish", "suomi", (), "Latn", "fi"),
    _R("fo", "fao", "", "Faroese", "føroyskt", (), "Latn", "fo"),
    _R("fr", "fra", "fre", "French", "français", (), "Latn", "fr"),
    _R("gl", "glg", "", "Galician", "galego", (), "Latn", "gl"),
    _R("gu", "guj", "", "Gujarati", "ગુજરાતી", (), "Gujr", "gu"),
    _R("ha", "hau", "", "Hausa", "Hausa", (), "", "ha"),
    _R("haw", "haw", "", "Hawaiian", "ʻŌlelo Hawaiʻi", (), "Latn", "haw"),
    _R("he", "heb", "", "Hebrew", "עברית", (), "Hebr", "he"),
    _R("hi", "hin", "", "Hindi", "हिन्दी", (), "Deva", "hi"),
    _R("hr", "hrv", "", "Croatian", "hrvatski", (), "Latn", "hr"),
    _R("ht", "hat", "", "Haitian Creole", "kreyòl ayisyen", ("Haitian", "kreyòl"), "Latn", "ht"),
    _R("hu", "hun", "", "Hungarian", "magyar", (), "Latn", "hu"),
    _R("hy", "hye", "arm", "Armenian", "հայերեն", (), "Armn", "hy"),
    _R("id", "ind", "", "Indonesian", "Bahasa Indonesia", ("Indonesia",), "Latn", "id"),
    _R("is", "isl", "ice", "Icelandic", "íslenska", (), "Latn", "is"),
    _R("it", "ita", "", "Italian", "italiano", (), "Latn", "it"),
    _R("ja", "jpn", "", "Japanese", "日本語", (), "Jpan", "ja"),
    _R("jv", "jav", "", "Javanese", "Jawa", ("basa Jawa",), "", "jw"),
    _R("ka", "kat", "geo", "Georgian", "ქართული", (), "Geor", "ka"),
    _R("kk", "kaz", "", "Kazakh", "қазақ тілі", ("қазақ",), "Cyrl", "kk"),
    _R("km", "khm", "", "Khmer", "ខ្មែរ", ("Cambodian",), "Khmr", "km"),
    _R("kn", "kan", "", "Kannada", "ಕನ್ನಡ", (), "Knda", "kn"),
    _R("ko", "kor", "", "Korean", "한국어", (), "Kore", "ko"),
    _R("la", "lat", "", "Latin", "latine", ("lingua Latina",), "Latn", "la"),
    _R("lb", "ltz", "", "Luxembourgish", "Lëtzebuergesch", ("Letzeburgesch",), "Latn", "lb"),
    _R("ln", "lin", "", "Lingala", "lingála", (), "Latn", "ln"),
    _R("lo", "lao", "", "Lao", "ລາວ", ("Laotian",), "Laoo", "lo"),
    _R("lt", "lit", "", "Lithuanian", "lietuvių", ("lietuvių kalba",), "Latn", "lt"),
    _R("lv", "lav", "", "Latvian", "latviešu", ("latviešu valoda",), "Latn", "lv"),
    _R("mg", "mlg", "", "Malagasy", "Malagasy", (), "Latn", "mg"),
    _R("mi", "mri", "mao", "Maori", "Māori", ("te reo Māori",), "Latn", "mi"),
    _R("mk", "mkd", "mac", "Macedonian", "македонски", (), "Cyrl", "mk"),
    _R("ml", "mal", "", "Malayalam", "മലയാളം", (), "Mlym", "ml"),
    _R("mn", "mon", "", "Mongolian", "монгол", (), "", "mn"),
    _R("mr", "mar", "", "Marathi", "मराठी", (), "Deva", "mr"),
    _R("ms", "msa", "may", "Malay", "Bahasa Melayu", ("Melayu",), "", "ms"),
    _R("mt", "mlt", "", "Maltese", "Malti", (), "Latn", "mt"),
    _R("my", "mya", "bur", "Burmese", "မြန်မာ", ("Myanmar",), "Mymr", "my"),
    _R(
        "nb",
        "nob",
        "",
        "Norwegian Bokmål",
        "norsk bokmål",
        ("Norwegian", "norsk", "Bokmål"),
        "Latn",
        "no",
    ),
    _R("ne", "nep", "", "Nepali", "नेपाली", ("Nepalese",), "Deva", "ne"),
    _R("nl", "nld", "dut", "Dutch", "Nederlands", ("Flemish", "Vlaams"), "Latn", "nl"),
    _R("nn", "nno", "", "Norwegian Nynorsk", "norsk nynorsk", ("Nynorsk",), "Latn", "nn"),
    _R("oc", "oci", "", "Occitan", "occitan", (), "Latn", "oc"),
    _R("pa", "pan", "", "Punjabi", "ਪੰਜਾਬੀ", ("Panjabi",), "", "pa"),
    _R("pl", "pol", "", "Polish", "polski", (), "Latn", "pl"),
    _R("ps", "pus", "", "Pashto", "پښتو", ("Pushto",), "Arab", "ps"),
    _R("pt", "por", "", "Portuguese", "português", (), "Latn", "pt"),
    _R("ro", "ron", "rum", "Romanian", "română", ("Moldavian", "Moldovan"), "Latn", "ro"),
    _R("ru", "rus", "", "Russian", "русский", (), "Cyrl", "ru"),
    _R("sa", "san", "", "Sanskrit", "संस्कृत भाषा", ("संस्कृतम्",), "Deva", "sa"),
    _R("sd", "snd", "", "Sindhi", "سنڌي", (), "", "sd"),
    _R("si", "sin", "", "Sinhala", "සිංහල", ("Sinhalese",), "Sinh", "si"),
    _R("sk", "slk", "slo", "Slovak", "slovenčina", (), "Latn", "sk"),
    _R("sl", "slv", "", "Slovenian", "slovenščina", ("Slovene",), "Latn", "sl"),
    _R("sn", "sna", "", "Shona", "chiShona", (), "Latn", "sn"),
    _R("so", "som", "", "Somali", "Soomaali", (), "Latn", "so"),
    _R("sq", "sqi", "alb", "Albanian", "shqip", (), "Latn", "sq"),
    _R("sr", "srp", "", "Serbian", "српски", ("srpski",), "", "sr"),
    _R("su", "sun", "", "Sundanese", "Basa Sunda", (), "Latn", "su"),
    _R("sv", "swe", "", "Swedish", "svenska", (), "Latn", "sv"),
    _R("sw", "swa", "", "Swahili", "Kiswahili", (), "Latn", "sw"),
    _R("ta", "tam", "", "Tamil", "தமிழ்", (), "Taml", "ta"),
    _R("te", "tel", "", "Telugu", "తెలుగు", (), "Telu", "te"),
    _R("tg", "tgk", "", "Tajik", "тоҷикӣ", ("Tajiki",), "", "tg"),
    _R("th", "tha", "", "Thai", "ไทย", (), "Thai", "th"),
    _R("tk", "tuk", "", "Turkmen", "türkmen dili", ("türkmen",), "", "tk"),
    _R("tl", "tgl", "", "Tagalog", "Tagalog", ("Filipino", "Pilipino"), "Latn", "tl"),
    _R("tr", "tur", "", "Turkish", "Türkçe", (), "Latn", "tr"),
    _R("tt", "tat", "", "Tatar", "татар", ("татар теле",), "Cyrl", "tt"),
    _R("uk", "ukr", "", "Ukrainian", "українська", (), "Cyrl", "uk"),
    _R("ur", "urd", "", "Urdu", "اردو", (), "Arab", "ur"),
    _R("uz", "uzb", "", "Uzbek", "oʻzbekcha", ("oʻzbek",), "", "uz"),
    _R("vi", "vie", "", "Vietnamese", "Tiếng Việt", (), "Latn", "vi"),
    _R("yi", "yid", "", "Yiddish", "ייִדיש", (), "Hebr", "yi"),
    _R("yo", "yor", "", "Yoruba", "Èdè Yorùbá", ("Yorùbá",), "Latn", "yo"),
    _R("yue", "yue", "", "Cantonese", "粵語", ("廣東話", "粤语"), "", "yue"),
    _R("zh", "zho", "chi", "Chinese", "中文", ("Mandarin", "汉语", "漢語", "普通话"), "", "zh"),
    # Languages outside Whisper's list that translation and speech services commonly offer.
    _R("ckb", "ckb", "", "Central Kurdish", "کوردیی ناوەندی", ("Sorani",), "Arab", ""),
    _R("eo", "epo", "", "Esperanto", "esperanto", (), "Latn", ""),
    _R("fy", "fry", "", "Western Frisian", "Frysk", ("Frisian",), "Latn", ""),
    _R("ga", "gle", "", "Irish", "Gaeilge", ("Irish Gaelic",), "Latn", ""),
    _R("gd", "gla", "", "Scottish Gaelic", "Gàidhlig", ("Gaelic",), "Latn", ""),
    _R("ig", "ibo", "", "Igbo", "Igbo", (), "Latn", ""),
    _R("ku", "kur", "", "Kurdish", "kurdî", ("Kurmanji",), "", ""),
    _R("ky", "kir", "", "Kyrgyz", "кыргызча", ("Kirghiz",), "", ""),
    _R("or", "ori", "", "Odia", "ଓଡ଼ିଆ", ("Oriya",), "Orya", ""),
    _R("rw", "kin", "", "Kinyarwanda", "Ikinyarwanda", (), "Latn", ""),
    _R("ug", "uig", "", "Uyghur", "ئۇيغۇرچە", ("Uighur",), "Arab", ""),
    _R("xh", "xho", "", "Xhosa", "isiXhosa", (), "Latn", ""),
    _R("zu", "zul", "", "Zulu", "isiZulu", (), "Latn", ""),
)

# Codes that stand for a language in the table under another code: deprecated ISO 639 codes
# (``iw``), macrolanguage members, and the ``no``/``nb`` pair. Norwegian text and speech are
# Bokmål in practice (Whisper's and langdetect's ``no``), so both map to ``nb``; Nynorsk
# (``nn``) stays separate. A value may carry a script (``sh`` is Serbian in Latin script).
CODE_ALIASES: dict[str, str] = {
    "iw": "he",
    "in": "id",
    "ji": "yi",
    "jw": "jv",
    "mo": "ro",
    "sh": "sr-Latn",
    "no": "nb",
    "nor": "nb",
    "fil": "tl",
    "cmn": "zh",
    "arb": "ar",
    "pes": "fa",
    "prs": "fa",
    "zsm": "ms",
    "swh": "sw",
    "ekk": "et",
    "lvs": "lv",
    "npi": "ne",
    "khk": "mn",
    "uzn": "uz",
    "azj": "az",
    "ory": "or",
    "kmr": "ku",
    "pnb": "pa",
    "ydd": "yi",
    "als": "sq",
    "plt": "mg",
}

# Extended language subtags that replace the primary subtag (``zh-yue`` is Cantonese).
EXTLANG: dict[tuple[str, str], str] = {
    ("zh", "cmn"): "zh",
    ("zh", "yue"): "yue",
    ("ar", "arb"): "ar",
    ("ms", "zsm"): "ms",
    ("sw", "swh"): "sw",
}

# ISO 3166-1 alpha-2 country codes, plus XK (Kosovo, used by CLDR).
REGIONS_ALPHA2: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    XK
    YE YT
    ZA ZM ZW
    """.split()
)

# UN M.49 area codes CLDR uses in locale tags (``es-419`` is Latin American Spanish).
REGIONS_NUMERIC: frozenset[str] = frozenset(
    """
    001 002 003 005 009 011 013 014 015 017 018 019 021 029 030 034 035 039 053 054 057 061
    142 143 145 150 151 154 155 202 419
    """.split()
)

# Region codes people write that are not ISO 3166 (``en-UK``).
REGION_ALIASES: dict[str, str] = {"UK": "GB"}

# ISO 15924 scripts in common use for the languages above.
SCRIPTS: frozenset[str] = frozenset(
    """
    Arab Armn Beng Bopo Brai Cans Cher Cyrl Deva Ethi Geor Grek Gujr Guru Hang Hans Hant Hebr
    Hira Jpan Kana Khmr Knda Kore Laoo Latn Mlym Mong Mymr Orya Sinh Syrc Taml Telu Tfng Thaa
    Thai Tibt Yiii
    """.split()
)

# English display names of scripts (as CLDR writes them inside a language name).
SCRIPT_NAMES: dict[str, str] = {
    "Arab": "Arabic",
    "Cyrl": "Cyrillic",
    "Deva": "Devanagari",
    "Guru": "Gurmukhi",
    "Hans": "Simplified",
    "Hant": "Traditional",
    "Latn": "Latin",
    "Mong": "Mongolian",
}

# Scripts implied by a region where the language has no single script (zh-TW is Traditional).
REGION_SCRIPTS: dict[tuple[str, str], str] = {
    ("zh", "CN"): "Hans",
    ("zh", "SG"): "Hans",
    ("zh", "MY"): "Hans",
    ("zh", "TW"): "Hant",
    ("zh", "HK"): "Hant",
    ("zh", "MO"): "Hant",
    ("yue", "HK"): "Hant",
    ("yue", "MO"): "Hant",
    ("yue", "CN"): "Hans",
    ("sr", "RS"): "Cyrl",
    ("sr", "BA"): "Cyrl",
    ("sr", "ME"): "Latn",
    ("az", "AZ"): "Latn",
    ("az", "IR"): "Arab",
    ("uz", "UZ"): "Latn",
    ("uz", "AF"): "Arab",
    ("pa", "IN"): "Guru",
    ("pa", "PK"): "Arab",
    ("mn", "MN"): "Cyrl",
    ("mn", "CN"): "Mong",
}

# English names of the regions that appear in language pickers and provider locale lists.
REGION_NAMES: dict[str, str] = {
    "001": "World",
    "150": "Europe",
    "419": "Latin America",
    "AE": "United Arab Emirates",
    "AF": "Afghanistan",
    "AR": "Argentina",
    "AT": "Austria",
    "AU": "Australia",
    "AZ": "Azerbaijan",
    "BA": "Bosnia and Herzegovina",
    "BD": "Bangladesh",
    "BE": "Belgium",
    "BO": "Bolivia",
    "BR": "Brazil",
    "CA": "Canada",
    "CH": "Switzerland",
    "CL": "Chile",
    "CN": "China",
    "CO": "Colombia",
    "CR": "Costa Rica",
    "CU": "Cuba",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "DO": "Dominican Republic",
    "DZ": "Algeria",
    "EC": "Ecuador",
    "EG": "Egypt",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "GR": "Greece",
    "GT": "Guatemala",
    "HK": "Hong Kong",
    "HN": "Honduras",
    "ID": "Indonesia",
    "IE": "Ireland",
    "IL": "Israel",
    "IN": "India",
    "IQ": "Iraq",
    "IR": "Iran",
    "IT": "Italy",
    "JO": "Jordan",
    "JP": "Japan",
    "KE": "Kenya",
    "KR": "South Korea",
    "KW": "Kuwait",
    "LB": "Lebanon",
    "LU": "Luxembourg",
    "MA": "Morocco",
    "ME": "Montenegro",
    "MN": "Mongolia",
    "MO": "Macao",
    "MX": "Mexico",
    "MY": "Malaysia",
    "NG": "Nigeria",
    "NI": "Nicaragua",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PA": "Panama",
    "PE": "Peru",
    "PH": "Philippines",
    "PK": "Pakistan",
    "PL": "Poland",
    "PR": "Puerto Rico",
    "PT": "Portugal",
    "PY": "Paraguay",
    "QA": "Qatar",
    "RO": "Romania",
    "RS": "Serbia",
    "RU": "Russia",
    "SA": "Saudi Arabia",
    "SE": "Sweden",
    "SG": "Singapore",
    "SV": "El Salvador",
    "SY": "Syria",
    "TN": "Tunisia",
    "TR": "Turkey",
    "TW": "Taiwan",
    "TZ": "Tanzania",
    "UA": "Ukraine",
    "US": "United States",
    "UY": "Uruguay",
    "UZ": "Uzbekistan",
    "VE": "Venezuela",
    "VN": "Vietnam",
    "ZA": "South Africa",
}

# Display names of regional and script variants, English and native, for the variants a
# picker offers. Other variants are named from REGION_NAMES/SCRIPT_NAMES (English) or fall
# back to the base language's native name.
VARIANT_NAMES: dict[str, tuple[str, str]] = {
    "ar-EG": ("Arabic (Egypt)", "العربية (مصر)"),
    "ar-SA": ("Arabic (Saudi Arabia)", "العربية (المملكة العربية السعودية)"),
    "de-AT": ("German (Austria)", "Deutsch (Österreich)"),
    "de-CH": ("German (Switzerland)", "Deutsch (Schweiz)"),
    "de-DE": ("German (Germany)", "Deutsch (Deutschland)"),
    "en-AU": ("English (Australia)", "English (Australia)"),
    "en-CA": ("English (Canada)", "English (Canada)"),
    "en-GB": ("English (United Kingdom)", "English (United Kingdom)"),
    "en-IE": ("English (Ireland)", "English (Ireland)"),
    "en-IN": ("English (India)", "English (India)"),
    "en-US": ("English (United States)", "English (United States)"),
    "es-419": ("Spanish (Latin America)", "español (Latinoamérica)"),
    "es-AR": ("Spanish (Argentina)", "español (Argentina)"),
    "es-ES": ("Spanish (Spain)", "español (España)"),
    "es-MX": ("Spanish (Mexico)", "español (México)"),
    "es-US": ("Spanish (United States)", "español (Estados Unidos)"),
    "fr-BE": ("French (Belgium)", "français (Belgique)"),
    "fr-CA": ("French (Canada)", "français (Canada)"),
    "fr-CH": ("French (Switzerland)", "français (Suisse)"),
    "fr-FR": ("French (France)", "français (France)"),
    "it-CH": ("Italian (Switzerland)", "italiano (Svizzera)"),
    "it-IT": ("Italian (Italy)", "italiano (Italia)"),
    "nl-BE": ("Dutch (Belgium)", "Nederlands (België)"),
    "nl-NL": ("Dutch (Netherlands)", "Nederlands (Nederland)"),
    "pt-BR": ("Portuguese (Brazil)", "português (Brasil)"),
    "pt-PT": ("Portuguese (Portugal)", "português (Portugal)"),
    "sr-Cyrl": ("Serbian (Cyrillic)", "српски (ћирилица)"),
    "sr-Latn": ("Serbian (Latin)", "srpski (latinica)"),
    "sv-FI": ("Swedish (Finland)", "svenska (Finland)"),
    "yue-Hans": ("Cantonese (Simplified)", "粤语（简体）"),
    "yue-Hant": ("Cantonese (Traditional)", "粵語（繁體）"),
    "zh-CN": ("Chinese (China)", "中文（中国）"),
    "zh-HK": ("Chinese (Hong Kong)", "中文（香港）"),
    "zh-Hans": ("Chinese (Simplified)", "中文（简体）"),
    "zh-Hant": ("Chinese (Traditional)", "中文（繁體）"),
    "zh-TW": ("Chinese (Taiwan)", "中文（台灣）"),
}
