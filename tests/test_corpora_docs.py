"""The document-only corpus sources: parsers of manuals, man pages, reST, plays and fortunes; held-out splits."""

import gzip

from lcm.data.corpora import doc_sources, literature, manpages, manuals
from lcm.data.corpora.stats import markdown_table
from lcm.data.corpora.store import split_of


def test_iso_codes_of_locale_folders():
    assert [manuals.iso_code(t) for t in ("C", "de-DE", "pt_BR", "zh-CN", "zh_CN", "zh-TW", "sr@latin", "pt")] == \
        ["en", "de", "pt", "zh", "zh", None, None, None]


def test_translations_share_a_split_and_untranslated_paragraphs_drop():
    en = ["The first sentence is here. The second one follows.", "A third sentence closes the page."]
    pages = {"en": {"a.html": en}, "de": {"a.html": ["Der erste Satz steht hier. Der zweite folgt.", en[1]]}}
    docs = manuals.documents("demo", pages)
    assert [d["lang"] for d in docs] == ["en"]  # de keeps 2 sentences after the untranslated one drops: too short
    pages["de"]["a.html"].insert(1, "Noch ein Satz auf Deutsch.")
    docs = {d["lang"]: d for d in manuals.documents("demo", pages)}
    assert docs["de"]["sentences"] == ["Der erste Satz steht hier.", "Der zweite folgt.", "Noch ein Satz auf Deutsch."]
    assert docs["en"]["split"] == docs["de"]["split"] == split_of("demo/a.html")
    held = manuals.documents("demo", pages, split="test")
    assert {d["split"] for d in held} == {"test"}


def test_held_out_sources_are_registers_of_their_own():
    held = {doc_sources.REGISTERS[s] for s in doc_sources.HELD_OUT}
    trained = {r for s, r in doc_sources.REGISTERS.items() if s not in doc_sources.HELD_OUT}
    assert len(held) >= 2 and not held & trained


def test_html_paragraphs_skip_code_and_tables():
    page = '<div class="para">Use <code>apt</code> to install.</div><pre>apt install x</pre><div class="para">Done.</div>'
    assert manuals.html_paragraphs(page, manuals._HANDBOOK_PARA) == ["Use apt to install.", "Done."]


def test_rst_prose_without_directives_literals_or_headings():
    rst = ("Title\n=====\n\nThe :func:`len` function returns the length of `an object <x>`_ given.\n"
           "It works on lists::\n\n    len([1, 2])\n\n.. note::\n\n   Hidden note.\n\nLast paragraph of *prose* here.\n")
    assert manuals.rst_paragraphs(rst) == [
        "The len function returns the length of an object given. It works on lists:", "Last paragraph of prose here."]


def test_roff_paragraphs_keep_prose_and_drop_nofill_and_synopsis():
    roff = ('.\\" comment\n.TH LS 1\n.SH NAME\nls \\- list\n.SH SYNOPSIS\n.B ls\n[\\fIOPTION\\fR]\n.SH DESCRIPTION\n'
            "List information about the FILEs.\nSort entries alphabetically.\n.PP\n.nf\ncode here.\n.fi\n"
            ".TP\n\\fB\\-a\\fR\ndo not ignore entries starting with \\(aq.\\(aq.\n.ig\nIgnored text.\n..\n")
    content = gzip.compress(roff.encode())
    assert manpages.page_paragraphs(content) == [
        "List information about the FILEs. Sort entries alphabetically.", "do not ignore entries starting with '.'."]
    assert manpages.page_key("usr/share/man/de/man1/ls.1.gz", "de") == "man1/ls.1"
    assert manpages.page_key("usr/share/man/man1/ls.1.gz", "") == "man1/ls.1"
    assert manpages.page_key("usr/share/man/de/man1/ls.1.gz", "") is None  # another language's folder


def test_shakespeare_scenes_drop_speakers_and_stage_directions():
    play = ("HAMLET\n\nSCENE I. Elsinore.\n\nBer.\nWho's there? Stand, ho!\n\n[Enter Horatio.]\n\nFran.\n"
            "Nay, answer me. Stand, and unfold yourself.\n\nSCENE II. A room.\n\nKing.\nThough yet of Hamlet. Our dear brother.\n"
            "Be it so.\n")
    docs = literature.shakespeare_documents([("x/hamlet_gut.txt", play.encode())])
    assert [d["sentences"] for d in docs] == [
        ["Who's there?", "Stand, ho!", "Nay, answer me.", "Stand, and unfold yourself."],
        ["Though yet of Hamlet.", "Our dear brother.", "Be it so."]]
    assert len({d["split"] for d in docs}) == 1  # one work, one split


def test_fortune_entries_become_documents():
    text = "Eins. Zwei. Drei.\n%\nKurz.\n%\nA. Er kam. Er sah.\nEr siegte.\n\t\t-- Caesar\n"
    docs = literature.fortune_documents([("usr/share/games/fortunes/de/x", text.encode())], "de", "fortunes-de")
    assert [d["sentences"] for d in docs] == [["Eins.", "Zwei.", "Drei."], ["A. Er kam.", "Er sah.", "Er siegte."]]


def test_corpus_table_marks_held_out_registers():
    counts = {("software help", "en", "test"): [2, 20, 200], ("scripture", "de", "train"): [5, 100, 1000]}
    table = markdown_table(counts)
    assert "| software help (held out) | 1 | - | - | 2 / 20 | 200 |" in table
    assert "| scripture | 1 | 5 / 100 | - | - | 1,000 |" in table
    assert "7 documents, 120 sentences" in table
