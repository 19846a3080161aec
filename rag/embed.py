"""Sentence-transformers embeddings with the e5 query/passage prompts."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from rag.config import EmbeddingConfig
from rag.errors import ConfigError
from rag.models.resolve import ResolvedModel, force_offline, resolve_device, resolve_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Kind = Literal["query", "passage"]
DTYPES = ("auto", "float32", "bfloat16")


class TextEmbedder(Protocol):
    """What retrieval needs from an embedder; a test fake is a few lines."""

    model_id: str

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray: ...


class Embedder:
    """Resolves and loads the model lazily, on the first call to `embed`."""

    def __init__(self, config: EmbeddingConfig) -> None:
        if config.batch_size < 1:
            raise ConfigError(f"embedding.batch_size must be >= 1, got {config.batch_size}")
        if config.dtype not in DTYPES:
            raise ConfigError(f"embedding.dtype must be one of {', '.join(DTYPES)}, got {config.dtype!r}")
        self.config = config
        self.model_id = config.model
        self._model: SentenceTransformer | None = None
        self._resolved: ResolvedModel | None = None
        self.dtype: str | None = None  # passages' compute dtype, settled when the model loads

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

            device = resolve_device(self.config.device)
            self._model = SentenceTransformer(
                str(self.resolved.path),
                device=device,
                local_files_only=True,
                prompts={"query": self.config.query_prompt, "passage": self.config.passage_prompt},
            )
            self._model.max_seq_length = min(self.config.max_seq_length, 512)
            self.dtype = resolve_dtype(self.config.dtype, device)
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
        with self._precision(kind):
            vectors = self.model.encode(
                list(texts),
                prompt_name=kind,
                batch_size=self.config.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        # Normalize in float32: a bfloat16 model's own normalization leaves norms ~1e-3 off.
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _precision(self, kind: Kind) -> AbstractContextManager[object]:
        """bfloat16 autocast for passages; queries stay float32.

        Autocast keeps the float32 weights (no second copy in memory) and casts per
        operation: it pays off on batched passages, not on one short query, where the
        per-call weight casts would cost more than the matmuls save.
        """
        device = self.model.device.type  # loading the model settles self.dtype
        if self.dtype != "bfloat16" or kind != "passage":
            return nullcontext()
        import torch

        return torch.autocast(device, dtype=torch.bfloat16)

    def count_tokens(self, texts: Sequence[str], kind: Kind = "passage") -> int:
        """Tokens fed to the model (prompt and specials included, truncation applied)."""
        prompt = self.config.query_prompt if kind == "query" else self.config.passage_prompt
        enc = self.model.tokenizer([prompt + t for t in texts], add_special_tokens=True)["input_ids"]
        return sum(min(len(ids), self.model.max_seq_length) for ids in enc)


def resolve_dtype(dtype: str, device: str) -> str:
    """The dtype to run in: "auto" picks bfloat16 only where the hardware computes it natively.

    On a CPU with AMX or AVX512-BF16, bfloat16 roughly doubles build throughput for a cosine
    of 0.9999 to the float32 vectors (benchmarks/REPORT.md); elsewhere it would be emulated
    and slow, so "auto" stays on float32.
    """
    if dtype not in DTYPES:
        raise ConfigError(f"embedding.dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype != "auto":
        return dtype
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bfloat16" if native else "float32"
