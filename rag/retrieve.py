"""Hybrid retrieval: dense top-k and BM25 top-k fused by reciprocal rank fusion.

    fused(chunk) = w_dense / (rrf_k + rank_dense) + w_lexical / (rrf_k + rank_lexical)

A chunk missing from one list simply gets no term from it. An optional
CrossEncoder reranks the fused list when `retrieval.reranker` names a local model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.config import RetrievalConfig
from rag.errors import ConfigError, ModelNotFoundError
from rag.index.store import IndexData
from rag.types import Passage


@dataclass
class Ranked:
    """Per-stage results, kept for diagnostics and evaluation."""

    dense: list[int]
    lexical: list[int]
    fused: list[Passage]


def rrf(dense_ids: Sequence[int], lexical_ids: Sequence[int], config: RetrievalConfig) -> dict[int, float]:
    """Reciprocal rank fusion of two ranked id lists, with the configured weights,
    best first; a tie goes to the better dense rank."""
    scores: dict[int, float] = {}
    for weight, ids in ((config.dense_weight, dense_ids), (config.lexical_weight, lexical_ids)):
        for rank, i in enumerate(ids, start=1):
            scores[i] = scores.get(i, 0.0) + weight / (config.rrf_k + rank)
    dense_rank = {i: r for r, i in enumerate(dense_ids)}
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], dense_rank.get(kv[0], len(dense_rank)))))


class HybridRetriever:
    def __init__(self, config: RetrievalConfig, index: IndexData) -> None:
        if config.top_k < 1 or config.dense_k < 0 or config.lexical_k < 0 or config.rrf_k < 0:
            raise ConfigError(f"retrieval sizes must be positive, got {config}")
        if config.dense_weight < 0 or config.lexical_weight < 0:
            raise ConfigError("retrieval weights must be >= 0")
        if index.search is None:
            raise ValueError("this IndexData has no search opened (load it with load_index)")
        self.config = config
        self.index = index
        self._reranker = None

    def search(self, query: str, query_vector: np.ndarray, k: int | None = None,
               lexical_query: str | None = None) -> Ranked:
        """Top-k passages for `query`; `query_vector` is its normalized embedding."""
        c = self.config
        k = k or c.top_k
        depth = max(k, c.dense_k)
        assert self.index.search is not None  # checked in __init__
        hits = self.index.search.search(query_vector, lexical_query or query,
                                        depth if c.dense_weight > 0 else 0,
                                        max(k, c.lexical_k) if c.lexical_weight > 0 else 0)
        scores = rrf(hits.dense, hits.lexical, c)
        dense_rank = {i: r for r, i in enumerate(hits.dense, start=1)}
        lexical_rank = {i: r for r, i in enumerate(hits.lexical, start=1)}
        order = list(scores)
        if c.reranker:
            order = self._rerank(query, order[: max(k * 4, 20)])
        fused = [
            Passage(self.index.chunks[i], float(scores[i]), dense_rank.get(i), lexical_rank.get(i))
            for i in order[:k]
        ]
        return Ranked(hits.dense, hits.lexical, fused)

    def _rerank(self, query: str, order: list[int]) -> list[int]:
        if self._reranker is None:
            from sentence_transformers import CrossEncoder

            from rag.models.resolve import force_offline

            force_offline()
            try:
                self._reranker = CrossEncoder(self.config.reranker, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelNotFoundError(
                    f"retrieval.reranker {self.config.reranker!r} could not be loaded ({exc}); "
                    "set it to a local CrossEncoder folder, or to null to turn reranking off"
                ) from exc
        pairs = [(query, self.index.chunks[i].text) for i in order]
        scores = self._reranker.predict(pairs, show_progress_bar=False)
        return [order[j] for j in np.argsort(-np.asarray(scores), kind="stable")]
