"""Word error rate with a light normaliser (case, punctuation, a few spoken forms), for tests and benchmarks."""

import re

_SPOKEN = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "0": "zero", "1": "one", "2": "two",
           "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine", "10": "ten"}


def normalize(text: str) -> "list[str]":
    """Lower-cased words without punctuation; hyphens split words; common abbreviations and digits spelled out."""
    words = re.findall(r"[\w']+", text.lower().replace("-", " "))
    return [_SPOKEN.get(word.strip("'"), word.strip("'")) for word in words if word.strip("'")]


def edit_distance(ref: "list[str]", hyp: "list[str]") -> int:
    """Levenshtein distance between two word lists (substitutions, insertions and deletions cost 1)."""
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` after normalising both (1.0 for an empty hypothesis)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        raise ValueError("the reference has no words")
    return edit_distance(ref, hyp) / len(ref)
