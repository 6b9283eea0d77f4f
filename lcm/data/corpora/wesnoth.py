"""Battle for Wesnoth campaigns (GPL-2+): gettext catalogs give N-way parallel lines, scenarios give story documents.

Recipe: a `.mo` msgid is the English line and msgstr its translation (join on msgid);
a scenario's `story=_ "..."` / `message=_ "..."` strings in file order are a story, and looking each one up in a
language's catalog gives the same story in that language.
"""

from __future__ import annotations

import gettext
import io
import re
from dataclasses import dataclass, field

from lcm.data.corpora.store import dedupe_parallel, parallel_unit, split_of, stable_id
from lcm.data.corpora.text import TextConfig, align_sentences, clean, has_placeholder, is_sentence_like, split_sentences

CAMPAIGNS = ("trow", "httt", "utbs", "nr", "low", "tsg", "sof", "sota", "sotbe", "dm", "did", "ei", "dw", "thot", "l", "ttb")
VERSION_DIR = "usr/share/games/wesnoth/1.16/"
# ISO 639-1 key -> Wesnoth locale folder. Portuguese: pt_BR (9.5 k lines) rather than pt (6.4 k).
LOCALES = {"de": "de", "fr": "fr", "es": "es", "zh": "zh_CN", "it": "it", "pt": "pt_BR", "ru": "ru", "ja": "ja", "hu": "hu"}
MO_PATH = re.compile(r"locale/([^/]+)/LC_MESSAGES/(wesnoth-[\w-]+)\.mo$")
_STRING = re.compile(r'\b(story|message)\s*=\s*_\s*"((?:[^"]|"")*)"')
_TEXTDOMAIN = re.compile(r"^#textdomain\s+(\S+)", re.M)
_CONTEXT = re.compile(r"^[\w ]{1,40}\^")  # Wesnoth's 'context^text' msgid prefix
MIN_DOC_SENTENCES = 5


def package_name(campaign: str) -> str:
    return f"wesnoth-1.16-{campaign}"


def wanted_path(path: str) -> bool:
    """The package members we read: catalogs of our locales and scenario .cfg files."""
    if path.endswith(".mo"):
        m = MO_PATH.search(path)
        return m is not None and m.group(1) in LOCALES.values()
    return path.endswith(".cfg") and "/scenarios/" in path


def read_mo(content: bytes) -> dict[str, str]:
    """msgid -> msgstr of a compiled catalog (singular entries only; msgctxt dropped; empty header skipped)."""
    catalog = gettext.GNUTranslations(io.BytesIO(content))._catalog
    out = {}
    for msgid, msgstr in catalog.items():
        if isinstance(msgid, str) and msgid and msgstr:
            out[msgid.split("\x04", 1)[-1]] = msgstr
    return out


def clean_line(text: str) -> str:
    """Wesnoth string -> plain text, or '' when it is not prose (placeholders, image markup, macros)."""
    text = _CONTEXT.sub("", text)
    if "~" in text or "<img" in text or "&" in text.replace("&amp;", "") or has_placeholder(text):
        return ""
    return clean(text)


@dataclass
class Scenario:
    """One scenario file: its textdomain and its story/message msgids in file order."""

    doc_id: str
    domain: str
    msgids: list[str] = field(default_factory=list)


def parse_scenario(cfg_text: str, doc_id: str, default_domain: str) -> Scenario:
    """Collect `story=_ "..."` and `message=_ "..."` msgids (WML doubles a quote as `""`)."""
    m = _TEXTDOMAIN.search(cfg_text)
    scenario = Scenario(doc_id, m.group(1) if m else default_domain)
    for _kind, raw in _STRING.findall(cfg_text):
        scenario.msgids.append(raw.replace('""', '"'))
    return scenario


def scenario_doc_id(path: str, campaign: str) -> str:
    """`.../campaigns/Heir_To_The_Throne/scenarios/01_X.cfg` -> `wesnoth/httt/01_X`."""
    tail = path.split("/scenarios/", 1)[1].removesuffix(".cfg")
    return f"wesnoth/{campaign}/{tail}"


def documents(scenario: Scenario, catalogs: dict[str, dict[str, dict[str, str]]]) -> list[dict]:
    """The scenario as an English document, plus one per language whose catalog translates every kept line.

    `catalogs[lang][domain][msgid] = msgstr`. Lines that are not prose are dropped in every language alike.
    """
    kept = [msgid for msgid in scenario.msgids if clean_line(msgid)]
    split = split_of(scenario.doc_id)
    docs = []
    english = [s for msgid in kept for s in split_sentences(clean_line(msgid), "en")]
    if len(english) < MIN_DOC_SENTENCES:
        return docs
    docs.append({"source": "wesnoth", "doc_id": scenario.doc_id, "lang": "en", "split": split, "sentences": english})
    for lang in sorted(catalogs):
        table = catalogs[lang].get(scenario.domain, {})
        lines = [clean_line(table.get(msgid, "")) for msgid in kept]
        if all(lines):
            sentences = [s for line in lines for s in split_sentences(line, lang)]
            docs.append({"source": "wesnoth", "doc_id": scenario.doc_id, "lang": lang, "split": split, "sentences": sentences})
    return docs


def parallel(catalogs: dict[str, dict[str, dict[str, str]]], split_keys: dict[tuple[str, str], str], cfg: TextConfig) -> list[dict]:
    """Sentence-level units joined on (domain, msgid); a line used in a scenario takes that scenario's split."""
    english: dict[tuple[str, str], str] = {}
    for table in catalogs.values():
        for domain, entries in table.items():
            for msgid in entries:
                english.setdefault((domain, msgid), clean_line(msgid))
    units = []
    for (domain, msgid), en_text in sorted(english.items()):
        if not is_sentence_like(en_text, "en", cfg):
            continue
        texts = {"en": en_text}
        for lang, table in catalogs.items():
            other = clean_line(table.get(domain, {}).get(msgid, ""))
            if other and other != en_text:
                texts[lang] = other
        if len(texts) == 1:
            continue
        line_key = f"wesnoth/{domain.removeprefix('wesnoth-')}/{stable_id(msgid)}"
        split_key = split_keys.get((domain, msgid), line_key)
        for i, sentence_texts in enumerate(align_sentences(texts, cfg)):
            units.append(parallel_unit("wesnoth", f"{line_key}#{i}", sentence_texts, split_key))
    return dedupe_parallel(units)
