"""e5 embeddings with the query/passage prompts, from a sentence-transformers folder.

On the CPU, texts go through `TorchEncoder` (rag/runtime/encoder.py), which computes
exactly what sentence-transformers would, without its per-call overhead; for that the
folder's transformer and tokenizer are loaded directly (rag/models/backbone.py), and
sentence-transformers is not even imported. How it runs
(the compute path, and for passages the batch size and worker count) is whatever was
measured fastest on this machine (rag/runtime), unless `embedding.dtype` and
`embedding.batch_size` say otherwise. Elsewhere (a GPU, or a model that is not
mean-pooled) sentence-transformers' own `encode` runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from rag.config import EmbeddingConfig
from rag.errors import ConfigError
from rag.models.backbone import Backbone, load_backbone
from rag.models.resolve import ResolvedModel, force_offline, resolve_device, resolve_model
from rag.runtime import Candidate, Measured, Planner, fastest, workload
from rag.runtime.encoder import PATHS, TorchEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Kind = Literal["query", "passage"]
DTYPES = ("auto", *PATHS)


class TextEmbedder(Protocol):
    """What retrieval needs from an embedder; a test fake is a few lines."""

    model_id: str

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray: ...


class Embedder:
    """Resolves and loads the model lazily, on the first call to `embed`."""

    def __init__(self, config: EmbeddingConfig) -> None:
        if config.batch_size is not None and config.batch_size < 1:
            raise ConfigError(f"embedding.batch_size must be >= 1, got {config.batch_size}")
        if config.dtype not in DTYPES:
            raise ConfigError(f"embedding.dtype must be one of {', '.join(DTYPES)}, got {config.dtype!r}")
        self.config = config
        self.model_id = config.model
        self._model: SentenceTransformer | None = None
        self._resolved: ResolvedModel | None = None
        self.dtype: str | None = None  # passages' compute dtype, settled at the first passage batch
        self._encoder: TorchEncoder | None = None
        self._backbone: Backbone | None = None
        self._direct: bool | None = None  # whether the backbone path applies; known once resolved
        self.planner = Planner(config.cache_dir, Path(config.model).name)

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
        return self._model

    @property
    def backbone(self) -> Backbone | None:
        """The transformer and tokenizer the CPU path runs, loaded without sentence-transformers;
        None where sentence-transformers runs the model (a GPU, or not a mean-pooled folder)."""
        if self._direct is None:
            force_offline()
            cpu = resolve_device(self.config.device) == "cpu"
            limit = min(self.config.max_seq_length, 512)
            self._backbone = load_backbone(self.resolved.path, limit) if cpu else None
            self._direct = self._backbone is not None
        return self._backbone

    @property
    def dim(self) -> int:
        if self.backbone is not None:
            return int(self.backbone.model.config.hidden_size)
        model = self.model
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str], kind: Kind = "passage") -> np.ndarray:
        """L2-normalized float32 embeddings, one row per text."""
        if kind not in ("query", "passage"):
            raise ValueError(f"kind must be 'query' or 'passage', got {kind!r}")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prompt = self.config.query_prompt if kind == "query" else self.config.passage_prompt
        if self.encoder is None:  # not a mean-pooled model on the CPU: sentence-transformers runs it
            return self._library_embed(texts, kind)
        dtype, batch_size, workers = self.plan(kind)
        return self.encoder.encode([prompt + t for t in texts], dtype, batch_size, workers)

    @property
    def encoder(self) -> TorchEncoder | None:
        """The direct forward pass, where it reproduces the model exactly (CPU, mean pooling)."""
        b = self.backbone
        if self._encoder is None and b is not None:
            self._encoder = TorchEncoder(b.model, b.tokenizer, b.max_seq_length, b.pad_id)
        return self._encoder

    def plan(self, kind: Kind) -> tuple[str, int, int]:
        """(dtype, batch size, workers) for `kind`: the configured ones, else those measured here.

        A measured passage choice is named "dtype/batch" or "dtype/batch/xN" (N workers)."""
        c = self.config
        if kind == "query":
            dtype = c.dtype if c.dtype != "auto" else self._choose("query").best
            return dtype, c.batch_size or 16, 1
        if c.dtype != "auto" and c.batch_size:
            self.dtype = c.dtype
            return c.dtype, c.batch_size, 1
        dtype, batch, *workers = self._choose("passages").best.split("/")
        self.dtype = c.dtype if c.dtype != "auto" else dtype
        return self.dtype, c.batch_size or int(batch), int(workers[0][1:]) if workers else 1

    def _choose(self, shape: str) -> Measured:
        measure = self._measure_query if shape == "query" else self._measure_passages
        return self.planner.choose(shape, measure)

    def _measure_passages(self) -> Measured:
        """Each path at batch 16 first; then, for every path within 10% of the best, batch 8
        and 32, and batches 8 and 16 run by one-thread workers, one per intra-op thread."""
        import torch

        enc = self.encoder
        assert enc is not None
        texts = [self.config.passage_prompt + t for t in workload.passages()]
        reference = enc.encode(texts, "float32", 16)  # kept: both rounds check against it

        def candidate(dtype: str, batch: int, workers: int = 1) -> Candidate:
            name = f"{dtype}/{batch}" + (f"/x{workers}" if workers > 1 else "")
            return Candidate(name, lambda: enc.encode(texts, dtype, batch, workers))

        first = fastest([candidate(d, 16) for d in PATHS], reference, repeat=1)
        close = [n.split("/")[0] for n, ms in first.median_ms.items()
                 if ms <= 1.1 * first.median_ms[first.best]]
        threads = torch.get_num_threads()
        shapes = [(8, 1), (32, 1)] + ([(8, threads), (16, threads)] if threads > 1 else [])
        second = fastest([candidate(d, b, w) for d in close for b, w in shapes], reference, repeat=2)
        times = {**first.median_ms, **second.median_ms}
        return Measured(min(times, key=times.__getitem__), times, {**first.cosine, **second.cosine},
                        {**first.dropped, **second.dropped})

    def _measure_query(self) -> Measured:
        enc = self.encoder
        assert enc is not None
        query = [self.config.query_prompt + workload.QUERY]
        assert PATHS[0] == "float32"  # the baseline: its output is the reference
        return fastest([Candidate(d, lambda d=d: enc.encode(query, d, 1)) for d in PATHS], repeat=15)

    def _library_embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """sentence-transformers' own encode (GPU, or a model this module does not reproduce)."""
        device = self.model.device.type
        dtype = resolve_dtype(self.config.dtype, device)
        import torch

        bf16 = dtype == "bfloat16" and kind == "passage"  # one short query is faster in float32
        with torch.autocast(device, dtype=torch.bfloat16) if bf16 else nullcontext():
            vectors = self.model.encode(list(texts), prompt_name=kind, convert_to_numpy=True,
                                        batch_size=self.config.batch_size or 32, show_progress_bar=False)
        # Normalize in float32: a bfloat16 model's own normalization leaves norms ~1e-3 off.
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def count_tokens(self, texts: Sequence[str], kind: Kind = "passage") -> int:
        """Tokens fed to the model (prompt and specials included, truncation applied)."""
        prompt = self.config.query_prompt if kind == "query" else self.config.passage_prompt
        if self.encoder is not None:  # already cut to max_seq_length
            return sum(len(ids) for ids in self.encoder.token_ids([prompt + t for t in texts]))
        enc = self.model.tokenizer([prompt + t for t in texts], add_special_tokens=True)["input_ids"]
        return sum(min(len(ids), self.model.max_seq_length) for ids in enc)


def resolve_dtype(dtype: str, device: str) -> str:
    """The autocast dtype where nothing is measured: a GPU, sentence-transformers' own encode
    (a model TorchEncoder does not reproduce) and reader training. "auto" picks bfloat16 only
    where the hardware computes it natively; the CPU paths that serve answers and build
    indexes are chosen by measurement instead (rag/runtime).
    """
    if dtype not in DTYPES:
        raise ConfigError(f"embedding.dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype != "auto":
        return "bfloat16" if dtype.startswith("bfloat16") else dtype
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bfloat16" if native else "float32"
