"""BERT encoder layers as plain tensors: the same arithmetic, less Python per layer.

transformers' BertLayer runs about a dozen modules per layer, each with its own call
overhead, keyword plumbing and an attention-interface lookup. For one short query
that overhead is most of the time. A lean layer is:

  1. one matmul for query, key and value together (their weights concatenated);
  2. torch's fused scaled-dot-product attention;
  3. the output projection, residual and LayerNorm;
  4. the feed-forward block (GELU), residual and LayerNorm.

The weights are copied once per layer and dtype (bfloat16 halves them): the embedder and
the reader share e5's bottom layers, and so share their lean copies too. The reader's
int8 copies (rag/runtime/int8.py) are its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch.nn import functional as F


class Linear(Protocol):
    """x -> x W^T + b, however W is stored (float here; int8 in rag/runtime/int8.py)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class Dense:
    """A linear layer's weight and bias as plain tensors in one float dtype."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, dtype: torch.dtype) -> None:
        self.weight = weight.detach().to(dtype).contiguous()
        self.bias = bias.detach().to(dtype).contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


@dataclass(frozen=True)
class LeanLayer:
    qkv: Linear  # [H] -> [3H]: query, key and value at once
    out: Linear
    ln1_w: torch.Tensor
    ln1_b: torch.Tensor
    up: Linear
    down: Linear
    ln2_w: torch.Tensor
    ln2_b: torch.Tensor


def build_layer(layer: Any, dtype: torch.dtype,
                dense: Callable[[torch.Tensor, torch.Tensor], Linear] | None = None) -> LeanLayer:
    """A lean copy of a transformers BertLayer: its LayerNorms in `dtype`, its four linear
    maps made by `dense(weight, bias)` (by default `Dense` in `dtype`)."""
    make = dense or (lambda w, b: Dense(w, b, dtype))

    def t(x: torch.Tensor) -> torch.Tensor:
        return x.detach().to(dtype).contiguous()

    att, out = layer.attention.self, layer.attention.output
    return LeanLayer(
        make(torch.cat([att.query.weight, att.key.weight, att.value.weight]),
             torch.cat([att.query.bias, att.key.bias, att.value.bias])),
        make(out.dense.weight, out.dense.bias), t(out.LayerNorm.weight), t(out.LayerNorm.bias),
        make(layer.intermediate.dense.weight, layer.intermediate.dense.bias),
        make(layer.output.dense.weight, layer.output.dense.bias),
        t(layer.output.LayerNorm.weight), t(layer.output.LayerNorm.bias))


# transformers layer -> {dtype: its lean copy}; a copy lives as long as its layer does
_COPIES: weakref.WeakKeyDictionary[Any, dict[torch.dtype, LeanLayer]] = weakref.WeakKeyDictionary()


def lean_layer(layer: Any, dtype: torch.dtype) -> LeanLayer:
    """The shared lean copy of a transformers BertLayer in `dtype`, made on first request.

    Taken once: weights changed later (training) are not seen."""
    copies = _COPIES.setdefault(layer, {})
    if dtype not in copies:
        copies[dtype] = build_layer(layer, dtype)
    return copies[dtype]


class LeanEncoder:
    def __init__(self, layers: Any, config: Any, dtype: torch.dtype = torch.bfloat16,
                 lean: Sequence[LeanLayer] | None = None) -> None:
        """`layers`: a transformers BertEncoder's `layer` list; `config`: its BertConfig.
        `lean`: lean copies made elsewhere (rag/runtime/int8.py), run instead of the shared
        copies of `layers`; their hidden states are in `dtype`."""
        if config.hidden_act != "gelu":
            raise ValueError(f"lean layers implement hidden_act 'gelu', got {config.hidden_act!r}")
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)
        self.dtype = dtype
        self.layers = list(lean) if lean is not None else [lean_layer(layer, dtype) for layer in layers]

    def __call__(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states [B, T, H] in, the last layer's out (in self.dtype); `mask` [B, T], 1 = token."""
        h = h.to(self.dtype)
        batch, width, hidden = h.shape
        # a boolean mask broadcast over heads and query rows: True where attention may look
        keep = None if mask is None else mask.bool()[:, None, None, :]
        for p in self.layers:
            qkv = p.qkv(h).view(batch, width, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)
            att = att.transpose(1, 2).reshape(batch, width, hidden)
            h = F.layer_norm(p.out(att) + h, (hidden,), p.ln1_w, p.ln1_b, self.eps)
            up = F.gelu(p.up(h))
            h = F.layer_norm(p.down(up) + h, (hidden,), p.ln2_w, p.ln2_b, self.eps)
        return h
