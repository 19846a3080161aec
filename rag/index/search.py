"""Chunk search: the one thing retrieval asks of an index backend.

`ChunkSearch.search` returns two ranked lists of chunk rows (positions in
`IndexData.chunks`), one by dense similarity and one by BM25; `rag.retrieve`
fuses them by rank. A backend that holds chunks the local store does not know
(an interrupted sync, another process mid-build) drops them here, so a row
always names a chunk this process can cite.

    FaissSearch   FAISS + bm25s in this process (files beside the store)
    MilvusSearch  a Milvus collection (rag.index.milvus_search)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.dense import build_faiss, search_faiss
from rag.index.lexical import LexicalIndex, TokenizerName


@dataclass(frozen=True)
class Hits:
    dense: list[int] = field(default_factory=list)  # chunk rows, best first
    lexical: list[int] = field(default_factory=list)


class ChunkSearch(ABC):
    """Dense and BM25 top-k over an index's chunks."""

    @abstractmethod
    def search(self, query_vector: np.ndarray, query_text: str, dense_k: int, lexical_k: int) -> Hits:
        """Rows of the best `dense_k` chunks by cosine and the best `lexical_k` by BM25 (0 = skip)."""

    def describe(self) -> str:
        """One line for `rag index status`."""
        return type(self).__name__


class FaissSearch(ChunkSearch):
    """FAISS over the chunk vectors and bm25s over our own jieba or bigram tokens."""

    def __init__(self, dense: Any, lexical: LexicalIndex) -> None:
        if dense.ntotal != lexical.size:
            raise ValueError(f"FAISS holds {dense.ntotal} chunks but BM25 holds {lexical.size}")
        self.dense = dense
        self.lexical = lexical

    @classmethod
    def build(cls, vectors: np.ndarray, tokens: list[list[str]], *, dense: str = "flat",
              lexical: TokenizerName = "jieba", nlist: int = 256, hnsw_m: int = 32) -> FaissSearch:
        return cls(build_faiss(vectors, dense, nlist=nlist, hnsw_m=hnsw_m),  # type: ignore[arg-type]
                   LexicalIndex(lexical).build(tokens))

    def search(self, query_vector: np.ndarray, query_text: str, dense_k: int, lexical_k: int) -> Hits:
        dense = search_faiss(self.dense, query_vector, dense_k)[0].tolist() if dense_k > 0 else []
        lexical = self.lexical.search(query_text, lexical_k)[0].tolist() if lexical_k > 0 else []
        return Hits(dense, lexical)

    def describe(self) -> str:
        return "faiss + bm25s, files in the index folder"

    # -- files --------------------------------------------------------------
    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self.dense, str(folder / "dense.faiss"))
        self.lexical.save(folder / "bm25")

    @classmethod
    def load(cls, folder: Path) -> FaissSearch:
        import faiss

        return cls(faiss.read_index(str(folder / "dense.faiss")), LexicalIndex.load(folder / "bm25"))
