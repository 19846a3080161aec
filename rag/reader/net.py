"""The reader network: e5-small's encoder with its top layers fine-tuned and a span head.

    <s> question </s></s> window </s>  ->  start and end logits per token

The bottom `trained_from` layers (and the embeddings) are e5-small's own and stay
frozen; at answer time they are the very modules the embedder uses, so the reader
adds only its top layers and a 384x2 head to memory. "No answer" is the span that
starts and ends on <s> (SQuAD 2.0 style): its score is start[0] + end[0].
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rag.reader.spans import Span

if TYPE_CHECKING:
    from tokenizers import Tokenizer

BOS, EOS = 0, 2  # XLM-R ids of <s> and </s>
PAD = 1


class ReaderNet(nn.Module):
    def __init__(self, base: nn.Module, trained_from: int) -> None:
        super().__init__()
        layers = base.encoder.layer
        if not 0 <= trained_from < len(layers):
            raise ValueError(f"trained_from must be in 0..{len(layers) - 1}, got {trained_from}")
        # The shared base is kept out of this module's parameters and state_dict.
        self.__dict__["base"] = base
        self.trained_from = trained_from
        self.top = nn.ModuleList(copy.deepcopy(layers[i]) for i in range(trained_from, len(layers)))
        self.head = nn.Linear(base.config.hidden_size, 2)
        self._lean: dict[str, Any] = {}  # "bfloat16" or "int8" -> lean layers for answering

    def frozen_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the shared, frozen bottom layers."""
        base = self.__dict__["base"]
        with torch.no_grad():
            h = base.embeddings(input_ids=input_ids)
            bias = _mask_bias(attention_mask, h.dtype)
            for layer in base.encoder.layer[: self.trained_from]:
                h = _out(layer(h, attention_mask=bias))
        return h

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[batch, tokens, 2] start/end logits (float32)."""
        if self.top is None:
            raise RuntimeError("this reader kept only its lean layers (lean_only()); use lean_forward")
        h = self.frozen_states(input_ids, attention_mask)
        bias = _mask_bias(attention_mask, h.dtype)
        for layer in self.top:
            h = _out(layer(h, attention_mask=bias))
        return self.head(h).float()

    def lean_forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     kind: str = "bfloat16") -> torch.Tensor:
        """`forward` for answering only, through lean copies of all 12 layers (rag/runtime/lean.py):
        "bfloat16" (the bottom ones are the embedder's copies when it made them), or "int8"
        (made by `quantize`).

        The copies are taken on first call, so weights changed after it (training) are not seen.
        """
        base = self.__dict__["base"]
        with torch.no_grad():
            h = self._lean_layers(kind)(base.embeddings(input_ids=input_ids), attention_mask)
            return self.head(h.float()).float()

    def quantize(self, calibration: Sequence[torch.Tensor]) -> None:
        """Make the int8 layers for `lean_forward(kind="int8")`, calibrated on `calibration`:
        token ids [1, T] of unpadded (question, window) sequences (rag/runtime/int8.py)."""
        from rag.runtime.int8 import int8_encoder

        base = self.__dict__["base"]
        with torch.no_grad():
            states = [base.embeddings(input_ids=ids) for ids in calibration]
            self._lean["int8"] = int8_encoder(self._layers(), base.config, states)

    def lean_only(self, kind: str = "bfloat16") -> None:
        """Keep the lean copies of `kind` alone and let the float32 top layers go (9 layers:
        ~64 MB), and any other lean copies.

        For a reader that answers with `lean_forward` alone; `forward` (training, float32 or
        autocast answering) is unavailable afterwards."""
        self._lean = {kind: self._lean_layers(kind)}
        self.top = None

    def has_lean(self, kind: str) -> bool:
        return kind in self._lean

    def drop_lean(self) -> None:
        """Let every lean copy go: for a reader that answers with `forward`."""
        self._lean = {}

    def _layers(self) -> list[Any]:
        base = self.__dict__["base"]
        return [*base.encoder.layer[: self.trained_from], *self.top]

    def _lean_layers(self, kind: str) -> Any:
        from rag.runtime.lean import LeanEncoder

        if kind not in self._lean:
            if kind != "bfloat16":
                raise RuntimeError(f"no lean {kind!r} layers: call quantize() first for 'int8'")
            self._lean[kind] = LeanEncoder(self._layers(), self.__dict__["base"].config, torch.bfloat16)
        return self._lean[kind]


def precision(dtype: str) -> Any:
    """bfloat16 autocast on the CPU for "bfloat16"; plain float32 otherwise."""
    if dtype == "bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _mask_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _out(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    allowed: torch.Tensor  # [B, T] bool: <s> and the window's tokens, where spans may lie
    offsets: list[list[tuple[int, int]]]  # per row and token: character span in the window text
    first_token: list[int]  # per row: position of the window's first token


def encode(tokenizer: Tokenizer, questions: Sequence[str], windows: Sequence[str],
           max_question_tokens: int = 48, max_window_tokens: int = 320) -> Batch:
    """Tokenize (question, window) pairs into one padded batch."""
    if len(questions) != len(windows):
        raise ValueError(f"{len(questions)} questions for {len(windows)} windows")
    q_enc = tokenizer.encode_batch(list(questions), add_special_tokens=False)
    w_enc = tokenizer.encode_batch(list(windows), add_special_tokens=False)
    rows, offsets, firsts = [], [], []
    for q, w in zip(q_enc, w_enc, strict=True):
        q_ids = q.ids[:max_question_tokens]
        w_ids, w_off = w.ids[:max_window_tokens], w.offsets[:max_window_tokens]
        head = [BOS, *q_ids, EOS, EOS]
        rows.append([*head, *w_ids, EOS])
        firsts.append(len(head))
        offsets.append([(0, 0)] * len(head) + list(w_off) + [(0, 0)])
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    allowed = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (r, first) in enumerate(zip(rows, firsts, strict=True)):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
        allowed[i, 0] = True
        allowed[i, first : len(r) - 1] = True
    return Batch(ids, mask, allowed, offsets, firsts)


def token_span(batch: Batch, row: int, start: int, end: int) -> tuple[int, int] | None:
    """Token positions (inclusive) covering characters [start, end) of row's window."""
    first, offs = batch.first_token[row], batch.offsets[row]
    last = int(batch.attention_mask[row].sum()) - 2  # the window's last token
    s = e = None
    for t in range(first, last + 1):
        a, b = offs[t]
        if b <= a:
            continue
        if s is None and b > start:
            s = t
        if a < end:
            e = t
    if s is None or e is None or e < s:
        return None
    return s, e


def best_spans(logits: torch.Tensor, batch: Batch, max_answer_tokens: int = 48,
               length_prior: float = 0.0) -> list[Span]:
    """The best non-null span of every row, with the null score beside it.

    `length_prior` adds length_prior * ln(characters) to every span while choosing, a
    prior on answer length fitted on validation windows (rag/reader/length_prior.py).
    The score reported stays the span's own start + end logit."""
    start, end = logits[..., 0], logits[..., 1]
    width = start.shape[1]
    allowed = batch.allowed.clone()
    allowed[:, 0] = False  # <s> is "no answer", never part of a span
    neg = torch.finfo(start.dtype).min / 4
    s = start.masked_fill(~allowed, neg)
    e = end.masked_fill(~allowed, neg)
    pair = s[:, :, None] + e[:, None, :]  # [B, i, j]
    i = torch.arange(width)
    ok = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_answer_tokens)
    pair = pair.masked_fill(~ok, neg)
    choose = pair
    if length_prior:
        first = torch.tensor([[a for a, _ in o] + [0] * (width - len(o)) for o in batch.offsets])
        last = torch.tensor([[b for _, b in o] + [0] * (width - len(o)) for o in batch.offsets])
        chars = (last[:, None, :] - first[:, :, None]).clamp(min=1).to(pair.dtype)  # [B, i, j]
        choose = pair + length_prior * chars.log()
    flat = choose.flatten(1).argmax(1)
    spans = []
    for row, idx in enumerate(flat.tolist()):
        a, b = divmod(idx, width)
        offs = batch.offsets[row]
        spans.append(Span(float(pair[row, a, b]), float(start[row, 0] + end[row, 0]),
                          offs[a][0], offs[b][1]))
    return spans


def span_loss(logits: torch.Tensor, batch: Batch, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the gold start and end positions (0 = no answer)."""
    neg = torch.finfo(logits.dtype).min / 4
    s = logits[..., 0].masked_fill(~batch.allowed, neg)
    e = logits[..., 1].masked_fill(~batch.allowed, neg)
    return (nn.functional.cross_entropy(s, starts) + nn.functional.cross_entropy(e, ends)) / 2
