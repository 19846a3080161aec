"""Where an index's chunk search lives: FAISS files beside the store, or a Milvus collection.

The store (documents, sentences, chunks and their vectors: rag.index.store) is the
same for every backend; a backend only holds what `ChunkSearch` searches. A build
calls, in order:

    backend.write(data, folder, previous)   before the swap: make the search side
                                            hold every chunk of `data`
    swap_in(folder, link)                    the atomic step (rag.index.store)
    backend.finish(data)                     after it: drop what `data` no longer holds

and a load calls `backend.open(data, folder)`. The manifest records the backend's
`settings()`, so an index is always opened with the backend that built it.
"""

from __future__ import annotations

import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import IndexConfig
from rag.errors import ConfigError, IndexCorruptError
from rag.index.search import ChunkSearch, FaissSearch

if TYPE_CHECKING:
    from rag.index.store import IndexData

BACKENDS: tuple[str, ...] = ("faiss", "milvus")


class Backend(ABC):
    kind: str

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """What the manifest records to find this backend's data again (never a secret)."""

    @abstractmethod
    def write(self, data: IndexData, folder: Path, previous: IndexData | None) -> None:
        """Make the search side hold every chunk of `data` (`folder` is the new store folder)."""

    @abstractmethod
    def open(self, data: IndexData, folder: Path) -> ChunkSearch:
        """The search over `data`'s chunks, checked against it."""

    def ping(self) -> None:
        """Fail now, before any embedding, if the backend cannot be reached."""

    def finish(self, data: IndexData) -> None:
        """After the swap: drop chunks of documents `data` no longer holds."""

    def drop(self) -> None:
        """Delete what lives outside the index folder (for `rag index remove --all`)."""


class FaissBackend(Backend):
    """FAISS (flat, IVF or HNSW) and bm25s, saved as files in the index folder."""

    kind = "faiss"

    def __init__(self, config: IndexConfig) -> None:
        self.config = config

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def write(self, data: IndexData, folder: Path, previous: IndexData | None) -> None:
        c = self.config
        FaissSearch.build(data.chunk_vectors, data.chunk_tokens, dense=c.dense, lexical=c.lexical_tokenizer,
                          nlist=c.ivf_nlist, hnsw_m=c.hnsw_m).save(folder)

    def open(self, data: IndexData, folder: Path) -> ChunkSearch:
        from rag.index.store import REBUILD_HINT

        try:
            search = FaissSearch.load(folder)
        except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, EOFError,
                zipfile.BadZipFile) as exc:
            raise IndexCorruptError(f"{folder / 'dense.faiss'} or {folder / 'bm25'} is missing or "
                                    f"damaged ({type(exc).__name__}: {exc}); {REBUILD_HINT}") from exc
        n = len(data.chunks)
        dense, bm25 = search.dense.ntotal, search.lexical.size
        if dense != n or bm25 != n:
            raise IndexCorruptError(f"{folder}: files disagree on sizes (chunks {n}, faiss {dense}, "
                                    f"bm25 {bm25}); {REBUILD_HINT}")
        return search


def make_backend(config: IndexConfig) -> Backend:
    """The backend `config.backend` names."""
    if config.backend == "faiss":
        return FaissBackend(config)
    if config.backend == "milvus":
        from rag.index.milvus import MilvusBackend

        return MilvusBackend.from_config(config)
    raise ConfigError(f"unknown index.backend {config.backend!r}; valid: {', '.join(BACKENDS)}")


def backend_for(manifest: dict[str, Any], config: IndexConfig) -> Backend:
    """The backend that built the index of `manifest` (an index from before backends is faiss);
    the config adds only what the manifest does not hold: the Milvus token and timeout."""
    recorded = manifest.get("backend") or {"kind": "faiss"}
    kind = recorded.get("kind")
    if kind == "faiss":
        return FaissBackend(config)
    if kind == "milvus":
        from rag.index.milvus import MilvusBackend

        return MilvusBackend(recorded.get("uri", ""), recorded.get("collection", ""), config.milvus.token,
                             config.milvus.timeout_s)
    raise IndexCorruptError(f"the manifest names an unknown backend {kind!r}; valid: {', '.join(BACKENDS)}")
