"""Cross-lingual zero-shot experiments: a model trained on one language, evaluated on inputs in others.

The next-sentence metrics of the LCM paper are computed per input language on documents that are translations of each
other where the data has them (e.g. Wesnoth scenarios in every language), so the rows are comparable.
"""

import json
from pathlib import Path

from encoders.errors import InputError
from encoders.languages import normalize_lang, short_code
from encoders.shared.atomic import atomic_write_text
from lcm.data.documents import load_documents
from lcm.eval.evaluate import evaluate

METRICS = ("l2", "ca", "par", "l2_r")


def run_xling(model, codec, data: str, langs: list[str], *, out_dir: str, tgt_lang: str = "eng_Latn", max_docs: int = 20,
              round_trip: int = 0, head_options: "dict | None" = None, progress=None) -> dict:
    """Evaluate `model` on the documents of `data` (JSONL with a 'lang' per row) for each language in `langs`."""
    wanted = {normalize_lang(lang) for lang in langs}
    docs_by_lang: dict[str, list] = {lang: [] for lang in wanted}
    for doc in load_documents([data], "en"):
        lang = normalize_lang(doc.lang)
        if lang in docs_by_lang and len(docs_by_lang[lang]) < max_docs:
            docs_by_lang[lang].append(doc)
    empty = [short_code(lang) for lang, docs in docs_by_lang.items() if not docs]
    if empty:
        raise InputError(f"no documents in {data!r} for language(s) {', '.join(empty)}; check the 'lang' column")
    table = {}
    for lang in sorted(docs_by_lang):
        docs = docs_by_lang[lang]
        for doc in docs:
            doc.lang = lang
            doc.concepts = codec.encode(doc.sentences, lang).numpy()
        row = evaluate(model, docs, codec=codec, round_trip=round_trip, lang_out=tgt_lang, head_options=head_options)[lang]
        table[short_code(lang)] = {**row, "documents": len(docs)}
        if progress:
            progress(lang)
    write_outputs(table, out_dir, {"data": data, "tgt_lang": tgt_lang, "max_docs": max_docs, "codec": codec.name})
    return table


def markdown_table(table: dict) -> str:
    cols = [m for m in METRICS if any(m in row for row in table.values())]
    lines = ["| lang | docs | predictions | " + " | ".join(cols) + " |", "|---|---|---|" + "---|" * len(cols)]
    for lang, row in table.items():
        lines.append(f"| {lang} | {row['documents']} | {row['predictions']} | "
                     + " | ".join(f"{row[c]:.3f}" if c in row else "" for c in cols) + " |")
    return "\n".join(lines)


def write_outputs(table: dict, out_dir: str, meta: dict) -> None:
    """xling.md, xling.json and xling.png (CA and l2 per language), each written atomically."""
    from lcm.plotting import pyplot, save_figure

    out = Path(out_dir)
    for name, text in (("xling.md", markdown_table(table) + "\n"), ("xling.json", json.dumps({**meta, "rows": table}, indent=2))):
        atomic_write_text(out / name, text)
    fig, axes = pyplot().subplots(1, 2, figsize=(8, 3.2))
    langs = list(table)
    for ax, metric, title in zip(axes, ("ca", "l2"), ("contrastive accuracy (higher is better)", "l2 (lower is better)")):
        ax.bar(langs, [table[lang][metric] for lang in langs], color="tab:blue")
        ax.set_title(title, fontsize=9)
    save_figure(fig, out / "xling.png", dpi=110)
