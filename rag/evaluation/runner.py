"""Run a dataset through the same Pipeline the chat page uses, and score it.

1. Build a temporary index over the dataset's contexts (one document each).
2. Ask every question; time each answer end to end.
3. Rank chunks for retrieval metrics: a chunk is relevant when it holds a gold
   answer span, matched by character offsets.
4. Score answers (hit, EM, F1), citations, refusals and latency.
With `per_context`, each question is asked against an index of its own context only.
With `compare`, other answer settings (another reader, or none: HAND) answer every
question too, from the same index, one after the other, so their scores and latencies
come from the same run.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rag.config import Config, is_lite_uri
from rag.embed import Embedder, TextEmbedder
from rag.errors import InvalidQuestionError
from rag.evaluation import metrics as m
from rag.evaluation.datasets import Dataset, Question
from rag.index.backends import make_backend
from rag.index.builder import IndexBuilder
from rag.index.view import subset
from rag.pipeline import Pipeline

MODES = ("hybrid", "dense", "lexical")
HAND: Mapping[str, Mapping[str, Any]] = MappingProxyType({"hand": {"reader": None}})  # sentence answers


@dataclass
class _Tally:
    ranks: dict[str, list[int | None]] = field(default_factory=lambda: {k: [] for k in MODES})
    hit: list[float] = field(default_factory=list)
    em: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)
    cited: list[float] = field(default_factory=list)
    refused_answerable: list[bool] = field(default_factory=list)
    refused_unanswerable: list[bool] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)


def evaluate(dataset: Dataset, config: Config, *, embedder: TextEmbedder | None = None,
             ks: Sequence[int] = (1, 3, 5, 10), limit: int | None = None, per_context: bool = False,
             corpus: Sequence[Path] = (), progress: bool = True,
             compare: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Scores for the configured answerer, and under "compared", for each named set of
    `answer` settings in `compare` (HAND: the hand-scored sentence answers) on the same index."""
    compare = dict(compare or {})
    if "configured" in compare:
        raise ValueError(f"'configured' names the configured answerer; call the compared ones "
                         f"something else, got {sorted(compare)}")
    for name, overrides in compare.items():  # check every override now, before any index is built
        config.replace(answer=dict(overrides))
    embedder = embedder or Embedder(config.embedding)
    questions = dataset.questions[:limit] if limit else dataset.questions
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        cfg = config.replace(index={"root": tmp, "name": "eval"})
        if cfg.index.backend == "milvus":  # a private collection: a lite file in tmp, or one dropped after
            lite = is_lite_uri(cfg.index.milvus.uri)
            cfg = cfg.replace(index={"milvus": {"uri": f"{tmp}/milvus.db" if lite else cfg.index.milvus.uri,
                                                "collection": f"rag_zh_eval_{os.getpid()}"}})
        try:
            return _evaluate(dataset, questions, cfg, embedder, ks, per_context, corpus, progress, compare)
        finally:
            if cfg.index.backend != "faiss":
                make_backend(cfg.index).drop()


def _evaluate(dataset: Dataset, questions: Sequence[Question], cfg: Config, embedder: TextEmbedder,
              ks: Sequence[int], per_context: bool, corpus: Sequence[Path], progress: bool,
              compare: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    builder = IndexBuilder(cfg, embedder, dim=embedder.dim)  # type: ignore[attr-defined]
    started = time.perf_counter()
    if dataset.documents:
        wanted = {q.doc_id for q in questions}
        report = builder.build_documents([d for d in dataset.documents if d.id in wanted])
    else:  # a JSONL set asks about a corpus of the user's
        report = builder.build(list(corpus) or cfg.index.sources())
    build_s = time.perf_counter() - started
    pipeline = Pipeline(cfg, embedder=embedder)
    variants = {"configured": pipeline}
    for name, overrides in compare.items():
        variants[name] = pipeline.with_index(pipeline.index, config=cfg.replace(answer=dict(overrides)))
    tallies = {name: _Tally() for name in variants}
    views: dict[str, dict[str, Pipeline]] = {}  # doc id -> variant -> pipeline on that doc
    bar = _bar(len(questions), progress)
    for q in questions:
        if per_context and q.doc_id and q.doc_id not in views:
            views.clear()  # questions of one context come together; keep memory flat
            own = subset(pipeline.index, [q.doc_id])
            views[q.doc_id] = {name: base.with_index(own) for name, base in variants.items()}
        for name, base in variants.items():
            p = views[q.doc_id][name] if per_context and q.doc_id else base
            _ask(p, q, tallies[name], max(ks), retrieval=name == "configured")
        bar.update(1)
    bar.close()
    tokens = report.embedded_tokens
    result = _summary(tallies["configured"], ks, len(questions), dataset, build_s, tokens, per_context)
    result["answerer"] = "reader" if cfg.answer.reader else "hand"
    result["compared"] = {}
    for name in compare:
        other = _summary(tallies[name], ks, len(questions), dataset, build_s, tokens, per_context)
        result["compared"][name] = {k: other[k] for k in ("answer", "citation", "refusal", "latency_ms")}
    return result


def _ask(p: Pipeline, q: Question, t: _Tally, depth: int, retrieval: bool = True) -> None:
    """Ask one question. EM and F1 score the short answer where the reader gave one,
    else the whole text; hit always scores the whole text."""
    started = time.perf_counter()
    try:
        answer = p.answer(q.question)
    except InvalidQuestionError:
        (t.refused_answerable if q.answerable else t.refused_unanswerable).append(True)
        return
    t.latency_ms.append((time.perf_counter() - started) * 1e3)
    if not q.answerable:
        t.refused_unanswerable.append(answer.refused)
        return
    t.refused_answerable.append(answer.refused)
    text = m.strip_markers(answer.text) if not answer.refused else ""
    short = answer.short if answer.short is not None and not answer.refused else text
    t.hit.append(m.hit(text, q.answers))
    t.em.append(m.exact_match(short, q.answers))
    t.f1.append(m.f1(short, q.answers))
    if not answer.refused:
        t.chars.append(len(text))
        t.cited.append(float(any(m.hit(c.text, q.answers) for c in answer.citations)))
    if retrieval and q.spans and q.doc_id:
        ranked = p.retrieve(q.question, k=depth)
        chunks = p.index.chunks
        lists = {"hybrid": [x.chunk for x in ranked.fused], "dense": [chunks[i] for i in ranked.dense],
                 "lexical": [chunks[i] for i in ranked.lexical]}
        for mode, ranked_chunks in lists.items():
            rel = [q.held_by(c) for c in ranked_chunks[:depth]]
            t.ranks[mode].append(m.first_relevant_rank(rel))


def _summary(t: _Tally, ks: Sequence[int], n: int, dataset: Dataset, build_s: float, tokens: int,
             per_context: bool) -> dict[str, Any]:
    def mean(xs: Sequence[float]) -> float:
        return round(sum(xs) / len(xs), 4) if xs else 0.0

    def retrieval(mode: str) -> dict[str, float]:
        ranks = t.ranks[mode]
        out = {f"recall@{k}": round(m.recall_at(ranks, k), 4) for k in sorted(set(ks) | {1, 5, 10})}
        out["mrr@10"] = round(m.mrr_at(ranks, 10), 4)
        return out

    return {
        "dataset": dataset.name,
        "n": n,
        "per_context": per_context,
        "retrieval": retrieval("hybrid"),
        "retrieval_by_mode": {mode: retrieval(mode) for mode in MODES},
        "answer": {"hit": mean(t.hit), "em": mean(t.em), "f1": mean(t.f1), "avg_chars": mean(t.chars)},
        "citation": {"precision": mean(t.cited)},
        "refusal": {"unanswerable_refused": mean(t.refused_unanswerable),
                    "answerable_refused": mean(t.refused_answerable),
                    "unanswerable": len(t.refused_unanswerable), "answerable": len(t.refused_answerable)},
        "latency_ms": {"p50": round(m.percentile(t.latency_ms, 50), 2),
                       "p95": round(m.percentile(t.latency_ms, 95), 2)},
        "build": {"seconds": round(build_s, 2),
                  "tokens_per_s": round(tokens / build_s, 1) if build_s else 0.0},
        "counts": {"retrieval_scored": len(t.ranks["hybrid"]), "no_span": dataset.no_span},
    }


def _bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="questions", unit="q", disable=not enabled)


__all__ = ["HAND", "evaluate"]
