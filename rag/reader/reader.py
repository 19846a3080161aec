"""SpanReader: read windows, return the best span of each. Loads on first use.

    reader = SpanReader("reader-v4", base=lambda: (bert_model, tokenizer))
    spans = reader.read("全省脱贫攻坚推进会在哪里召开？", ["全省脱贫攻坚推进会在菏泽召开。…"])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag.embed import DTYPES, resolve_dtype
from rag.errors import ConfigError
from rag.reader import weights
from rag.reader.spans import Span
from rag.reader.tokens import reader_tokenizer
from rag.runtime import Candidate, Planner, fastest, workload

if TYPE_CHECKING:
    from rag.reader.net import ReaderNet

BaseProvider = Callable[[], tuple[Any, Any]]  # () -> (BertModel, tokenizers.Tokenizer)
READER_DTYPES = (*DTYPES, "int8")  # int8: the reader's own path (rag/runtime/int8.py), opt-in
LEAN = {"bfloat16-weights": "bfloat16", "int8": "int8"}  # paths that answer through lean layers


class Reader(Protocol):
    """What the answerer needs from a reader; a test fake is a few lines."""

    window_chars: int
    calibration: weights.Calibration

    def read(self, question: str, windows: Sequence[str]) -> list[Span]: ...


class SpanReader:
    def __init__(self, name_or_path: str, base: BaseProvider, dtype: str = "auto",
                 planner: Planner | None = None) -> None:
        """`dtype` "auto": measured on this machine when a `planner` is given, else by CPU support."""
        if dtype not in READER_DTYPES:
            raise ConfigError(f"reader dtype must be one of {', '.join(READER_DTYPES)}, got {dtype!r}")
        self.folder = weights.resolve_folder(name_or_path)
        self.meta = weights.read_meta(self.folder)  # cheap: a small JSON file, checked now
        self._base = base
        self.dtype = dtype
        self.planner = planner
        self._net: ReaderNet | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def window_chars(self) -> int:
        return int(self.meta.settings.get("max_chars", 160))

    @property
    def calibration(self) -> weights.Calibration:
        return self.meta.calibration

    @property
    def max_answer_tokens(self) -> int:
        """The calibrated cap on span length in tokens, else the one it was trained with."""
        return self.meta.max_answer_tokens

    def load(self) -> ReaderNet:
        from rag.reader.net import ReaderNet

        with self._lock:
            if self._net is None:
                base, tokenizer = self._base()
                net = ReaderNet(base, self.meta.trained_from)
                weights.load_into(net, self.folder, self.meta, tokenizer)
                net.eval()
                self._net = net
                self._tokenizer = reader_tokenizer(tokenizer, bool(self.meta.settings.get("char_tokens")))
                if self.dtype == "auto":
                    self.dtype = self._measured_dtype() if self.planner else resolve_dtype("auto", "cpu")
                if self.dtype == "int8":
                    net.quantize(self._calibration())
                # only the chosen path's layers stay: the float32 top layers and any lean
                # copies made to measure go (lean_only: ~64 MB)
                if self.dtype in LEAN:
                    net.lean_only(LEAN[self.dtype])
                else:
                    net.drop_lean()
        return self._net

    def _calibration(self) -> list[Any]:
        """Token ids [1, T] of the fixed calibration windows, for the int8 layers."""
        from rag.reader.net import encode

        windows = workload.reader_calibration_windows()
        return [encode(self._tokenizer, [workload.QUERY], [w]).input_ids for w in windows]

    def _measured_dtype(self) -> str:
        """float32, bfloat16 autocast or lean bfloat16 layers, whichever reads the fixed windows fastest.

        int8 is never chosen here, only when configured (answer.reader_dtype: int8): its logits
        pass the cosine check (0.9996 on an AVX2 EPYC), yet on the validation questions it cost
        EM 0.479 -> 0.465 and F1 0.746 -> 0.737 (benchmarks/reports/reader_int8_validation.md),
        a trade for speed (p50 213 -> 155 ms there) that is the user's to make."""
        assert self.planner is not None
        windows = workload.reader_windows()

        def logits(dtype: str) -> np.ndarray:
            return self._logits(workload.QUERY, windows, dtype)  # rows: start, end

        paths = ("float32", "bfloat16", "bfloat16-weights")  # float32 first: the reference
        candidates = [Candidate(d, lambda d=d: logits(d)) for d in paths]
        shape = f"reader/{self.folder.name}"
        # Lean layers win a near tie (5%): the float32 top layers can then go (~64 MB, lean_only).
        return self.planner.choose(shape, lambda: fastest(candidates, repeat=5,
                                                          prefer="bfloat16-weights", slack=0.05)).best

    def read(self, question: str, windows: Sequence[str]) -> list[Span]:
        """One span per window (character offsets into that window), in one batch."""
        decoding = (self.calibration.length_prior, self.max_answer_tokens)
        return self.read_pairs([question] * len(windows), windows, [decoding])[decoding]

    def read_pairs(self, questions: Sequence[str], windows: Sequence[str],
                   decodings: Sequence[tuple[float, int]]) -> dict[tuple[float, int], list[Span]]:
        """Each (question, window) pair read once, its span chosen under each
        (length prior, cap in tokens) decoding."""
        if not windows:
            return {d: [] for d in decodings}
        import torch

        from rag.reader.net import best_spans, encode, precision

        net = self.load()
        batch = encode(self._tokenizer, list(questions), list(windows))
        with torch.inference_mode(), precision(self.dtype):
            logits = self._run(net, batch.input_ids, batch.attention_mask, self.dtype)
        return {(p, cap): best_spans(logits, batch, cap, p) for p, cap in decodings}

    def _logits(self, question: str, windows: Sequence[str], dtype: str) -> np.ndarray:
        """Start and end logits over the real tokens, as float32 (for measuring)."""
        import torch

        from rag.reader.net import encode, precision

        assert self._net is not None
        batch = encode(self._tokenizer, [question] * len(windows), list(windows))
        with torch.inference_mode(), precision(dtype):
            logits = self._run(self._net, batch.input_ids, batch.attention_mask, dtype)
        mask = batch.attention_mask.bool()
        return torch.stack([logits[..., 0][mask], logits[..., 1][mask]]).float().numpy()

    @staticmethod
    def _run(net: ReaderNet, input_ids: Any, attention_mask: Any, dtype: str) -> Any:
        if dtype in LEAN:
            return net.lean_forward(input_ids, attention_mask, LEAN[dtype])
        return net(input_ids, attention_mask)
