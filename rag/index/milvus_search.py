"""Search a Milvus collection that MilvusBackend (rag.index.milvus) filled and opened.

Each question is two searches, dense (inner product) and BM25 (the server's jieba
analyzer), returned as two ranked lists of the store's chunk rows for `rag.retrieve`
to fuse by rank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from rag.index.search import ChunkSearch, Hits

if TYPE_CHECKING:
    from rag.index.milvus import MilvusBackend


class MilvusSearch(ChunkSearch):
    """Two searches per question, dense and BM25, mapped back to the store's chunk rows."""

    def __init__(self, backend: MilvusBackend, rows: dict[str, int]) -> None:
        self.backend = backend
        self.rows = rows  # chunk id -> row in IndexData.chunks

    def search(self, query_vector: np.ndarray, query_text: str, dense_k: int, lexical_k: int) -> Hits:
        b = self.backend
        c = b.client()
        dense: list[int] = []
        lexical: list[int] = []
        with b.calls(f"searching {b.collection}"):
            if dense_k > 0 and self.rows:
                found = c.search(b.collection, data=[np.asarray(query_vector, np.float32).ravel().tolist()],
                                 anns_field="vector", limit=dense_k, output_fields=["doc_id"],
                                 search_params={"metric_type": "IP"}, timeout=b.timeout_s)
                dense = self._rows(found)
            if lexical_k > 0 and self.rows and query_text.strip():
                found = c.search(b.collection, data=[query_text], anns_field="sparse", limit=lexical_k,
                                 output_fields=["doc_id"], search_params={"metric_type": "BM25"},
                                 timeout=b.timeout_s)
                lexical = self._rows(found)
        return Hits(dense, lexical)

    def describe(self) -> str:
        b = self.backend
        return f"milvus collection {b.collection} at {b.uri} ({b.count()} chunks)"

    def _rows(self, found: Any) -> list[int]:
        """Hits as store rows, best first; a chunk this store does not know (a build under way
        elsewhere) is skipped."""
        hits = found[0] if found else []
        return [self.rows[h["id"]] for h in hits if h["id"] in self.rows]
