"""Language codes: users may type ISO 639-1 (`fr`) or SONAR/FLORES codes (`fra_Latn`); we keep the latter."""

from encoders.errors import InputError

# ISO 639-1 -> FLORES-200 code, for the languages the toolkit's own data and codecs cover.
ISO_TO_FLORES = {
    "ar": "arb_Arab", "bn": "ben_Beng", "cs": "ces_Latn", "de": "deu_Latn", "el": "ell_Grek",
    "en": "eng_Latn", "es": "spa_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hu": "hun_Latn", "id": "ind_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "ko": "kor_Hang", "nl": "nld_Latn", "pl": "pol_Latn", "pt": "por_Latn",
    "ro": "ron_Latn", "ru": "rus_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn", "th": "tha_Thai",
    "tl": "tgl_Latn", "tr": "tur_Latn", "uk": "ukr_Cyrl", "vi": "vie_Latn", "zh": "zho_Hans",
}
FLORES_TO_ISO = {flores: iso for iso, flores in ISO_TO_FLORES.items()}
# Scripts with no spaces between words: segmentation and n-gram metrics treat them per character.
CJK_LANGS = {"zho_Hans", "zho_Hant", "jpn_Jpan"}


def normalize_lang(code: str, supported: "set[str] | frozenset[str] | tuple[str, ...] | None" = None) -> str:
    """Return the FLORES code for `code` (`fr`, `FR`, `fra_Latn`, `zh-cn` all work), or raise InputError.

    With `supported`, the code must also be one of those (FLORES codes), so a codec can refuse what it cannot do.
    """
    raw = (code or "").strip()
    key = raw.lower().replace("-", "_")
    flores = ISO_TO_FLORES.get(key) or _regional(key)
    if flores is None:
        # Accept a FLORES code typed in any case: 'fra_latn' -> 'fra_Latn'.
        parts = raw.replace("-", "_").split("_")
        if len(parts) == 2 and len(parts[0]) == 3 and len(parts[1]) == 4:
            flores = f"{parts[0].lower()}_{parts[1].capitalize()}"
    if flores is None or (supported is not None and flores not in supported):
        if supported is None:
            raise InputError(f"unknown or unsupported language code {code!r}; give an ISO 639-1 code (en, fr, zh, ...), "
                             "a regional tag (fr-FR, zh-TW) or a FLORES-200 code (fra_Latn)")
        shown = ", ".join(sorted(FLORES_TO_ISO.get(c, c) for c in supported))
        raise InputError(f"unknown or unsupported language code {short_code(flores) if flores else code!r}; "
                         f"this codec covers: {shown}")
    return flores


TRADITIONAL_CHINESE = {"tw", "hk", "mo", "hant"}  # regions and script tag written in traditional characters


def _regional(key: str) -> "str | None":
    """`fr_fr` -> fra_Latn, `en_us` -> eng_Latn, `zh_tw` / `zh_hant` -> zho_Hant, `zh_cn` -> zho_Hans (BCP 47 style
    tags: a language, then a region or script subtag)."""
    language, _, region = key.partition("_")
    if language not in ISO_TO_FLORES or not region.isalpha() or len(region) not in (2, 4):
        return None
    if language == "zh":
        return "zho_Hant" if region in TRADITIONAL_CHINESE else "zho_Hans"
    return ISO_TO_FLORES[language]


def short_code(flores: str) -> str:
    """`fra_Latn` -> `fr` where a short code exists, else the FLORES code itself."""
    return FLORES_TO_ISO.get(flores, flores)


AUTO = "auto"  # --src-lang auto: detect the language from the text


def detect_language(text: str) -> tuple[str, float]:
    """(FLORES code, confidence in [0, 1]) of the language `text` is written in, by py3langid (97 languages).

    Short texts give low confidence; callers say so. Raises InputError naming --src-lang when the best guess is not
    a language at all (digits, symbols) or has no FLORES mapping here.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    global _IDENTIFIER
    if _IDENTIFIER is None:
        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    iso, confidence = _IDENTIFIER.classify(" ".join(text.split())[:5000])
    if iso not in ISO_TO_FLORES:
        raise InputError(f"cannot tell the input's language (best guess {iso!r}, {confidence:.0%} sure, has no language "
                         "code here); give it with --src-lang, e.g. --src-lang de or a FLORES-200 code like ckb_Arab")
    return ISO_TO_FLORES[iso], float(confidence)


_IDENTIFIER = None
