"""ACLSum (PyPI `aclsum`): the full body of 250 ACL papers paired with each of its summaries.

Each paper gives four rows: its three aspect summaries (challenge / approach / outcome, one sentence each) and
its abstract, every one against the same body text (the paper minus its abstract). The dataset's own
train / val / test split is kept (val -> valid), since 5 test papers from a 2 % hash split would be useless.
"""

from __future__ import annotations

import json

from lcm.data.corpora.text import clean

WHEEL = "aclsum==0.1.2"
ASPECTS = ("challenge", "approach", "outcome")
SPLIT_NAMES = {"train": "train", "val": "valid", "test": "test"}


def body_text(paper: dict) -> str:
    """Paragraphs of `pdf_parse.body_text`, blank-line separated."""
    paragraphs = [clean(p.get("text", "")) for p in paper["pdf_parse"]["body_text"]]
    return "\n\n".join(p for p in paragraphs if p)


def summaries(split_files: dict[str, bytes], papers: dict[str, bytes]) -> list[dict]:
    """`split_files['train'] = <train.jsonl bytes>`, `papers['<id>'] = <paper_jsons/<id>.json bytes>` -> rows."""
    rows = []
    for split_name, content in sorted(split_files.items()):
        for line in content.decode("utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            paper_id = record["id"]
            if paper_id not in papers:
                continue
            paper = json.loads(papers[paper_id])
            document = body_text(paper)
            targets = [(aspect, clean(record["summary"][aspect])) for aspect in ASPECTS]
            targets.append(("abstract", clean(paper.get("abstract") or "")))
            for aspect, summary in targets:
                if document and summary:
                    rows.append({
                        "source": "aclsum", "doc_id": f"aclsum/{paper_id}#{aspect}", "split": SPLIT_NAMES[split_name],
                        "lang": "en", "document": document, "summary": summary,
                    })
    return sorted(rows, key=lambda r: r["doc_id"])
