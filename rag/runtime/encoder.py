"""e5's forward pass, without sentence-transformers' per-call work.

sentence-transformers loads the model; this module runs it. For one short query the
library's generic path (Python tokenizer wrapper, feature dicts, a padded batch,
module-by-module pooling) costs more than the arithmetic. Here:

  1. the Rust tokenizer encodes every text at once;
  2. texts are sorted by length, so a batch pads only to its own longest text;
  3. each batch runs once under inference_mode, in one of three paths:
     "float32"; "bfloat16" (autocast: float32 weights, cast at every matmul);
     "bfloat16-weights" (a bfloat16 copy of the 12 encoder layers, about 42 MB,
     made on first use and run as lean layers, see lean.py; embeddings stay
     float32 and shared);
  4. the hidden states are mean-pooled over real tokens and normalized in float32;
  5. with `workers` > 1, that many batches run at once, each on one intra-op thread:
     on 2 cores two one-thread workers beat one two-thread loop, whose small matmuls,
     attention and element-wise ops pay a thread handshake each (measured: ~6,100
     vs ~5,200 tokens/s on an index build). Whether it wins is measured per machine.

A batch of one needs no attention mask at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

PATHS = ("float32", "bfloat16", "bfloat16-weights")
_THREADS = threading.Lock()  # one multi-worker encode at a time owns torch's thread setting


class TorchEncoder:
    def __init__(self, model: Any, tokenizer: Any, max_length: int, pad_id: int) -> None:
        """`model`: a transformers encoder; `tokenizer`: a `tokenizers.Tokenizer` (specials added)."""
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.pad_id = pad_id
        self._bf16_layers: Any = None

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with specials, cut like transformers does: the first tokens, then the end token.

        The tokenizer may be shared with transformers, which leaves padding and truncation
        switched on after a call: padding is dropped by the attention mask, and cutting here
        gives the same ids whether or not it already truncated to max_length.
        """
        encoded = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ids = [[i for i, m in zip(e.ids, e.attention_mask, strict=True) if m] for e in encoded]
        n = self.max_length
        return [i if len(i) <= n else [*i[: n - 1], i[-1]] for i in ids]

    def encode(self, texts: Sequence[str], dtype: str = "float32", batch_size: int = 16,
               workers: int = 1) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text, in the order given.

        `workers` > 1 runs that many batches at once, each on one intra-op thread."""
        if dtype not in PATHS:
            raise ValueError(f"dtype must be one of {', '.join(PATHS)}, got {dtype!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), self.model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # longest first
        batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]

        def run(rows: list[int]) -> None:
            out[rows] = self._forward([ids[i] for i in rows], dtype)

        if workers == 1 or len(batches) == 1:
            for rows in batches:
                run(rows)
            return out
        if dtype == "bfloat16-weights":
            self._lean()  # made once, before the workers race to make it
        with _one_thread_each(), ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, batches))  # list(): re-raise a worker's error here
        return out

    def _forward(self, batch: list[list[int]], dtype: str) -> np.ndarray:
        import torch

        width = max(len(i) for i in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, i in enumerate(batch):
            input_ids[r, : len(i)] = torch.tensor(i)
            mask[r, : len(i)] = 1
        single = len(batch) == 1  # nothing to mask
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bfloat16" else nullcontext()
        with torch.inference_mode(), cast:
            if dtype == "bfloat16-weights":
                hidden = self._bf16_forward(input_ids, None if single else mask)
            elif single:
                hidden = self.model(input_ids=input_ids).last_hidden_state
            else:
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            hidden = hidden.float()
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
            pooled = pooled / pooled.norm(dim=1, keepdim=True).clamp(min=1e-12)
        return pooled.numpy()

    def _bf16_forward(self, input_ids: Any, mask: Any) -> Any:
        """Embeddings in float32, then the lean bfloat16 copy of the encoder layers."""
        return self._lean()(self.model.embeddings(input_ids=input_ids), mask)

    def _lean(self) -> Any:
        """The lean bfloat16 layers, made on first use."""
        import torch

        from rag.runtime.lean import LeanEncoder

        if self._bf16_layers is None:
            self._bf16_layers = LeanEncoder(self.model.encoder.layer, self.model.config, torch.bfloat16)
        return self._bf16_layers


@contextmanager
def _one_thread_each() -> Iterator[None]:
    """torch's intra-op threads set to one while the block runs, then put back."""
    import torch

    with _THREADS:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)
