"""Sentence-transformers embeddings with the e5 query/passage prompts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from rag.config import EmbeddingConfig
from rag.models.resolve import ResolvedModel, force_offline, resolve_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Kind = Literal["query", "passage"]


class TextEmbedder(Protocol):
    """What retrieval needs from an embedder; a test fake is a few lines."""

    model_id: str

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray: ...


class Embedder:
    """Resolves and loads the model lazily, on the first call to `embed`."""

    def __init__(self, config: EmbeddingConfig) -> None:
        if config.batch_size < 1:
            raise ValueError(f"embedding.batch_size must be >= 1, got {config.batch_size}")
        self.config = config
        self.model_id = config.model
        self._model: SentenceTransformer | None = None
        self._resolved: ResolvedModel | None = None

    @property
    def resolved(self) -> ResolvedModel:
        if self._resolved is None:
            c = self.config
            self._resolved = resolve_model(
                c.model, c.cache_dir, query_prompt=c.query_prompt, passage_prompt=c.passage_prompt
            )
        return self._resolved

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            force_offline()
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.set_verbosity_error()
            transformers.utils.logging.disable_progress_bar()

            device = self.config.device
            if device == "auto":
                import torch

                device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = SentenceTransformer(
                str(self.resolved.path),
                device=device,
                local_files_only=True,
                prompts={"query": self.config.query_prompt, "passage": self.config.passage_prompt},
            )
            self._model.max_seq_length = min(self.config.max_seq_length, 512)
        return self._model

    @property
    def dim(self) -> int:
        model = self.model
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        """L2-normalized float32 embeddings, one row per text."""
        if kind not in ("query", "passage"):
            raise ValueError(f"kind must be 'query' or 'passage', got {kind!r}")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            prompt_name=kind,
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str], kind: Kind = "passage") -> int:
        """Tokens fed to the model (prompt and specials included, truncation applied)."""
        prompt = self.config.query_prompt if kind == "query" else self.config.passage_prompt
        enc = self.model.tokenizer([prompt + t for t in texts], add_special_tokens=True)["input_ids"]
        return sum(min(len(ids), self.model.max_seq_length) for ids in enc)
