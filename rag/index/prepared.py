"""One document on its way into an index: chunked, tokenized, then embedded.

A document is either prepared afresh (chunked and tokenized, vectors to come) or reused
from the old index (chunks, tokens and vectors as they were). `combine` lays the
prepared documents out as one IndexData.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rag.chunking import Chunker
from rag.index.lexical import tokenize
from rag.index.store import IndexData
from rag.types import Chunk, Document, Sentence

EMBED_GROUP = 256  # texts embedded per call, across small documents


@dataclass
class Prepared:
    doc: Document
    sentences: list[Sentence]
    chunks: list[Chunk]
    tokens: list[list[str]]
    chunk_vectors: np.ndarray | None = None
    sentence_vectors: np.ndarray | None = None


def prepare(doc: Document, chunker: Chunker, method: str) -> Prepared:
    """A new or changed document: split, chunked and tokenized for BM25 (`method`)."""
    sentences = chunker.sentences(doc)
    chunks = chunker.chunk(doc, sentences)
    return Prepared(doc, sentences, chunks, [tokenize(c.text, method) for c in chunks])


def reuse(old: IndexData, doc: Document, method: str) -> Prepared:
    """A document already in `old`: its chunks and vectors as they are."""
    rows, sentence_rows = old.doc_rows[doc.id]
    sentences = [old.sentences[i] for i in sentence_rows]
    old_doc = old.documents[doc.id]
    chunks = [old.chunks[i] for i in rows]
    if old_doc.source != doc.source:  # same content under a new name
        chunks = [dataclasses.replace(c, source=doc.source) for c in chunks]
    if old.manifest.get("lexical", {}).get("tokenizer") == method:
        tokens = [old.chunk_tokens[i] for i in rows]
    else:  # another lexical tokenizer: tokenize again, the vectors stay
        tokens = [tokenize(c.text, method) for c in chunks]
    return Prepared(doc, sentences, chunks, tokens, old.chunk_vectors[rows],
                    old.sentence_vectors[sentence_rows])


def combine(prepared: list[Prepared], manifest: dict) -> IndexData:
    """The prepared documents, in order, as one index."""
    dim = manifest["embedding"]["dim"]
    chunk_vectors = np.concatenate([p.chunk_vectors for p in prepared]).astype(np.float32)
    sentence_vectors = np.concatenate([p.sentence_vectors for p in prepared]).astype(np.float32)
    chunks = [c for p in prepared for c in p.chunks]
    tokens = [t for p in prepared for t in p.tokens]
    manifest = {
        **manifest,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "documents": [{"id": p.doc.id, "source": p.doc.source, "chars": len(p.doc.text),
                       "chunks": len(p.chunks), "sentences": len(p.sentences)} for p in prepared],
    }
    assert chunk_vectors.shape == (len(chunks), dim), chunk_vectors.shape
    return IndexData(
        manifest=manifest,
        documents={p.doc.id: p.doc for p in prepared},
        sentences=[s for p in prepared for s in p.sentences],
        chunks=chunks,
        chunk_tokens=tokens,
        chunk_vectors=chunk_vectors,
        sentence_vectors=sentence_vectors,
    )


def groups(todo: list[Prepared], size: int = EMBED_GROUP) -> Iterator[list[Prepared]]:
    """Documents in groups of about `size` texts: one embed call each."""
    group: list[Prepared] = []
    texts = 0
    for p in todo:
        group.append(p)
        texts += len(p.chunks) + len(p.sentences)
        if texts >= size:
            yield group
            group, texts = [], 0
    if group:
        yield group
