"""FAISS inner-product search over L2-normalized vectors (so scores are cosines)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from rag.errors import ConfigError

DenseKind = Literal["flat", "ivf", "hnsw"]
KINDS: tuple[str, ...] = ("flat", "ivf", "hnsw")


def build_faiss(vectors: np.ndarray, kind: DenseKind = "flat", *, nlist: int = 256, hnsw_m: int = 32):
    """A FAISS index over `vectors` ([n, dim] float32, normalized)."""
    import faiss

    if kind not in KINDS:
        raise ConfigError(f"unknown dense index kind {kind!r}; valid: {', '.join(KINDS)}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    elif kind == "ivf" and n >= 2 * 39:  # FAISS wants ~39 points per centroid to train
        nlist = max(1, min(nlist, n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // 8)
    else:  # flat, or a corpus too small to train IVF on
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


def search_faiss(index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indexes, cosine scores) of the top-k, best first."""
    if index.ntotal == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
                               min(k, index.ntotal))
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep]
