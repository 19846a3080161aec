"""Get the documents of an index back when the index itself cannot be used.

A damaged file (vectors, FAISS, BM25) or changed settings make an index unusable,
but its documents are rarely lost: documents.jsonl holds every text as indexed.
When that file is damaged too, the manifest still names each document's source,
and the sources still on disk are read again. Whatever comes back is re-chunked
and re-embedded by the builder; what cannot be found is named in the message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rag.index.store import read_documents
from rag.types import Document, content_hash


def recover_documents(folder: Path, reload: Callable[[str], Document | None]) -> tuple[list[Document], str]:
    """(documents, what was done) for the index at `folder`; `reload(source)` reads a source file."""
    docs = _from_jsonl(folder / "documents.jsonl")
    if docs:
        return docs, f"recovered {len(docs)} documents from {folder / 'documents.jsonl'}"
    try:
        listed = json.loads((folder / "manifest.json").read_text("utf-8")).get("documents", [])
        sources = [d["source"] for d in listed if isinstance(d, dict) and isinstance(d.get("source"), str)]
    except (OSError, ValueError, AttributeError):
        return [], f"nothing could be recovered from {folder}: its documents and manifest are unreadable"
    found = [doc for doc in map(reload, sources) if doc is not None]
    lost = len(sources) - len(found)
    return found, (f"read {len(found)} of {len(sources)} documents again from their sources"
                   + (f"; {lost} are no longer on disk and were dropped" if lost else ""))


def _from_jsonl(path: Path) -> list[Document]:
    """Every intact document of a documents.jsonl: [] if any line is damaged (all or nothing)."""
    try:
        docs = read_documents(path)
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if any(d.id != content_hash(d.text) for d in docs):
        return []
    return docs
