"""An in-memory index restricted to some documents, made without re-embedding."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from rag.index.search import FaissSearch
from rag.index.store import IndexData


def subset(index: IndexData, doc_ids: Collection[str]) -> IndexData:
    """The part of `index` holding only `doc_ids`, searched in memory (FAISS and its own
    BM25 statistics) whatever backend the whole index lives on."""
    wanted = set(doc_ids)
    rows = sorted(r for d in wanted for r in index.doc_rows.get(d, ([], []))[0])
    sent_rows = sorted(r for d in wanted for r in index.doc_rows.get(d, ([], []))[1])
    tokens = [index.chunk_tokens[i] for i in rows]
    vectors = index.chunk_vectors[rows] if rows else np.zeros((0, index.chunk_vectors.shape[1]), np.float32)
    method = index.manifest.get("lexical", {}).get("tokenizer", "jieba")
    view = IndexData(
        manifest={**index.manifest, "documents": [d for d in index.manifest.get("documents", [])
                                                  if d["id"] in wanted]},
        documents={k: v for k, v in index.documents.items() if k in wanted},
        sentences=[index.sentences[i] for i in sent_rows],
        chunks=[index.chunks[i] for i in rows],
        chunk_tokens=tokens,
        chunk_vectors=vectors,
        sentence_vectors=index.sentence_vectors[sent_rows],
    )
    view.search = FaissSearch.build(vectors, tokens, lexical=method)
    return view
