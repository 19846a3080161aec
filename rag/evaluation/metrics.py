"""Metrics, CMRC 2018 style: normalize, then EM and character-level F1 against the best reference."""

from __future__ import annotations

import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

from rag.types import MARKER

_PUNCT = set(string.punctuation) | set("，。！？；：、“”‘’（）《》〈〉【】『』「」﹃﹄〔〕…—～·．＂＇﹑")


def strip_markers(text: str) -> str:
    return MARKER.sub("", text)


def normalize(text: str) -> str:
    """NFKC, lower case, no punctuation, no whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch not in _PUNCT and not ch.isspace())


def exact_match(prediction: str, references: Sequence[str]) -> float:
    p = normalize(prediction)
    return float(any(p == normalize(r) for r in references)) if references else 0.0


def f1(prediction: str, references: Sequence[str]) -> float:
    """Best character-level F1 over the references."""
    p = normalize(prediction)
    best = 0.0
    for ref in references:
        r = normalize(ref)
        common = sum((Counter(p) & Counter(r)).values())
        if common:
            precision, recall = common / len(p), common / len(r)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def hit(prediction: str, references: Sequence[str]) -> float:
    """1 if the answer contains a reference once both are normalized."""
    p = normalize(prediction)
    return float(any(normalize(r) and normalize(r) in p for r in references))


def first_relevant_rank(ranked: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    for i, relevant in enumerate(ranked, start=1):
        if relevant:
            return i
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return float(np.mean([r is not None and r <= k for r in ranks])) if ranks else 0.0


def mrr_at(ranks: Sequence[int | None], k: int = 10) -> float:
    return float(np.mean([1.0 / r if r is not None and r <= k else 0.0 for r in ranks])) if ranks else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0
