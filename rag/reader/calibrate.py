"""`rag reader calibrate`: fit how readings are ranked and refused, on validation data only.

1. Take the validation contexts of the training files (the same hash split as
   training) and halve them by another hash: half A is indexed as it is; in half
   B, each question gets a copy of its context with the sentences holding its
   answer deleted.
2. Read with the real pipeline (retrieval, hand scores, windows, reader):
   - answerable:          A's questions against the index of all A contexts;
   - unanswerable, other: B's questions against the same index (a question is
                          dropped if a window read holds its answer text);
   - unanswerable, own:   B's questions against their own answer-less context.
3. Choose `hand_weight` (how much the hand score helps rank windows) by the F1 of
   the short answers to the answerable questions: the smallest weight within
   F1_TOLERANCE of the best (a smaller gap is under one question of 548).
4. Fit a logistic regression of answerable vs unanswerable on the winner's margin
   over "no answer" and the evidence, the two unanswerable kinds weighted equally;
   move its bias to the value that maximizes balanced accuracy while refusing at
   most `max_refused` of the answerable questions.
   `null_logits=True` fits on the span's own logits and its "no answer" logits
   instead of their difference. That separates better on the validation cases
   alone (reader-v4, 5 folds: answer-removed contexts refused 0.775 vs 0.685 at about
   5% answerable refused; benchmarks/reports/reader_refusal.md), but through the
   full pipeline it refused more answerable validation questions
   (benchmarks/reports/reader_refusal_validation.md), so it is off by default and
   reader-v4 ships the margin rule (w_null 0).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Config
from rag.errors import DatasetError
from rag.evaluation.metrics import f1
from rag.reader.data import Corpus, is_validation, load_squad, split
from rag.reader.weights import Calibration
from rag.types import Document

HAND_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
F1_TOLERANCE = 0.001


@dataclass
class Case:
    kind: str  # "answerable" | "other" | "own"
    margins: list[float]  # per window read, in reading order
    nulls: list[float]  # each window's "no answer" logits
    hands: list[float]
    f1s: list[float]  # F1 of each window's short answer (answerable only)
    evidence: float

    def winner(self, hand_weight: float) -> int:
        """The window read that wins: highest margin + hand_weight * hand score."""
        return int(np.argmax(np.asarray(self.margins) + hand_weight * np.asarray(self.hands)))


def validation_corpus(files: list[str], share: float) -> Corpus:
    parts = [split(load_squad(Path(f)), share)[1] for f in files]
    return Corpus({k: v for c in parts for k, v in c.contexts.items()},
                  [q for c in parts for q in c.questions])


def collect(config: Config, val: Corpus, embedder: Any, progress: bool = True) -> list[Case]:
    from tqdm import tqdm

    from rag.chunking import split_sentences
    from rag.index.builder import IndexBuilder
    from rag.index.view import subset
    from rag.pipeline import Pipeline
    from rag.question import resolve_followup

    half_a = {cid for cid, text in val.contexts.items() if not is_validation(text + "#B", 0.5)}
    docs = {cid: Document.from_text(text, cid) for cid, text in val.contexts.items() if cid in half_a}
    own: dict[str, Document] = {}
    for q in val.questions:
        if q.context_id in half_a:
            continue
        text = val.contexts[q.context_id]
        a, b = q.start, q.start + len(q.answer)
        kept = [s for s in split_sentences(Document("x", "x", text)) if s.end <= a or s.start >= b]
        stripped = "\n".join(s.text for s in kept)
        if stripped and q.answer not in stripped:
            own[q.id] = Document.from_text(stripped, f"{q.context_id}-without-{q.id}")
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="rag-calibrate-") as tmp:
        cfg = config.replace(index={"root": tmp, "name": "calibrate"})
        builder = IndexBuilder(cfg, embedder, dim=embedder.dim)
        builder.build_documents([*docs.values(), *own.values()])
        pipeline = Pipeline(cfg, embedder=embedder)
        answerer = pipeline.answerer
        everything = pipeline.index
        view_a = subset(everything, [d.id for d in docs.values()])
        bar = tqdm(total=len(val.questions) + len(own), desc="calibrate", unit="q", disable=not progress)
        for q in val.questions:
            query = resolve_followup(q.question, None)
            vector = embedder.embed([query.search_text], "query")[0]
            kind = "answerable" if q.context_id in half_a else "other"
            cases.extend(_read(pipeline, answerer, view_a, query, vector, q, kind))
            bar.update(1)
            if q.id in own:
                view = subset(everything, [own[q.id].id])
                cases.extend(_read(pipeline, answerer, view, query, vector, q, "own"))
                bar.update(1)
        bar.close()
    return cases


def _read(pipeline: Any, answerer: Any, index: Any, query: Any, vector: Any, q: Any,
          kind: str) -> list[Case]:
    from rag.retrieve import HybridRetriever

    retriever = HybridRetriever(pipeline.config.retrieval, index)
    n = pipeline.config.answer.candidate_passages
    ranked = retriever.search(query.search_text, vector, max(n, pipeline.config.retrieval.top_k))
    readings, evidence = answerer.read(query, vector, ranked.fused[:n], index)
    readings.sort(key=lambda r: (r.window.doc_id, r.window.start))  # order free of hand_weight
    if kind == "other" and any(q.answer in r.window.text for r in readings):
        return []  # another context holds the answer: not unanswerable after all
    docs = index.documents
    return [Case(kind, [r.span.margin for r in readings], [r.span.null for r in readings],
                 [r.hand for r in readings],
                 [f1(docs[r.window.doc_id].text[r.start:r.end], [q.answer]) for r in readings], evidence)]


def fit(cases: list[Case], max_refused: float = 0.05,
        null_logits: bool = False) -> tuple[Calibration, dict[str, Any]]:
    if not 0.0 <= max_refused <= 1.0:
        raise ValueError(f"max_refused must be within [0, 1], got {max_refused!r}")
    answerable = [c for c in cases if c.kind == "answerable" and c.margins]
    if not answerable:
        raise DatasetError("no answerable validation question had a window read: nothing to calibrate "
                           "on; check the training files and --validation-share")
    # 3. hand_weight, by the short answers' F1
    f1_by_weight = {w: float(np.mean([c.f1s[c.winner(w)] for c in answerable])) for w in HAND_WEIGHTS}
    best_f1 = max(f1_by_weight.values())
    weight = min(w for w in HAND_WEIGHTS if f1_by_weight[w] >= best_f1 - F1_TOLERANCE)
    # 4. refusal: logistic regression on the winner's features and the evidence, then the bias
    rows, labels, weights = [], [], []
    counts = {k: sum(c.kind == k for c in cases) for k in ("answerable", "other", "own")}
    for c in cases:
        rows.append(_features(c, weight, null_logits))
        labels.append(1.0 if c.kind == "answerable" else 0.0)
        weights.append(0.5 / counts["answerable"] if c.kind == "answerable" else 0.25 / counts[c.kind])
    x, y, sw = np.asarray(rows), np.asarray(labels), np.asarray(weights)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    coef = _logistic((x - mu) / sd, y, sw)
    w_raw = coef[:-1] / sd
    z = x @ w_raw  # decision value without the bias
    kinds = np.asarray([c.kind for c in cases])
    pos, own, other = z[kinds == "answerable"], z[kinds == "own"], z[kinds == "other"]
    best = None
    for t in np.unique(z):  # refuse when z < t
        refused_pos = float(np.mean(pos < t))
        if refused_pos > max_refused:
            break
        own_ok, other_ok = float(np.mean(own < t)), float(np.mean(other < t))
        bal = (1 - refused_pos) / 2 + (own_ok + other_ok) / 4
        if best is None or bal > best[0]:
            best = (bal, t, refused_pos, own_ok, other_ok)
    assert best is not None
    bal, t, refused_pos, own_ok, other_ok = best
    if null_logits:
        # w_s * score + w_n * null  ==  w_s * margin + (w_s + w_n) * null, as Calibration weighs them
        w_margin, w_null, w_evidence = float(w_raw[0]), float(w_raw[0] + w_raw[1]), float(w_raw[2])
    else:
        w_margin, w_null, w_evidence = float(w_raw[0]), 0.0, float(w_raw[1])
    calibration = Calibration(hand_weight=weight, w_margin=w_margin, w_null=w_null,
                              w_evidence=w_evidence, bias=float(-t))
    report = {"cases": counts, "f1_by_hand_weight": {str(k): round(v, 4) for k, v in f1_by_weight.items()},
              "hand_weight": weight, "null_logits": null_logits, "answerable_refused": round(refused_pos, 4),
              "unanswerable_own_refused": round(own_ok, 4), "unanswerable_other_refused": round(other_ok, 4),
              "balanced_accuracy": round(float(bal), 4), "max_refused": max_refused,
              "calibration": dataclasses.asdict(calibration)}
    return calibration, report


def _features(c: Case, hand_weight: float, null_logits: bool) -> tuple[float, ...]:
    """What the refusal rule weighs for one case: its winner's logits, then the evidence.

    The margin rule sees (margin, evidence); the null-logit rule sees (span logits =
    margin + null, null, evidence). A case with no window read gets the most
    confident "no answer" there is: margin -50, null 0.
    """
    if c.margins:
        i = c.winner(hand_weight)
        margin, null = c.margins[i], c.nulls[i]
    else:
        margin, null = -50.0, 0.0
    if null_logits:
        return (margin + null, null, c.evidence)
    return (margin, c.evidence)


def _logistic(x: np.ndarray, y: np.ndarray, sw: np.ndarray, steps: int = 2000) -> np.ndarray:
    """Weighted logistic regression by gradient descent on standardized x; returns (w..., b)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        w -= 1.0 * (xb.T @ ((p - y) * sw)) / sw.sum()
    return w
