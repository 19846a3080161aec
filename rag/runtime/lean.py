"""BERT encoder layers as plain tensors: the same arithmetic, less Python per layer.

transformers' BertLayer runs about a dozen modules per layer, each with its own call
overhead, keyword plumbing and an attention-interface lookup. For one short query
that overhead is most of the time. A lean layer is:

  1. one matmul for query, key and value together (their weights concatenated);
  2. torch's fused scaled-dot-product attention;
  3. the output projection, residual and LayerNorm;
  4. the feed-forward block (GELU), residual and LayerNorm.

The weights are copied once per layer and dtype (bfloat16 halves them): the embedder and
the reader share e5's bottom layers, and so share their lean copies too.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class LeanLayer:
    qkv_w: torch.Tensor  # [3H, H]
    qkv_b: torch.Tensor
    out_w: torch.Tensor
    out_b: torch.Tensor
    ln1_w: torch.Tensor
    ln1_b: torch.Tensor
    up_w: torch.Tensor
    up_b: torch.Tensor
    down_w: torch.Tensor
    down_b: torch.Tensor
    ln2_w: torch.Tensor
    ln2_b: torch.Tensor


# transformers layer -> {dtype: its lean copy}; a copy lives as long as its layer does
_COPIES: weakref.WeakKeyDictionary[Any, dict[torch.dtype, LeanLayer]] = weakref.WeakKeyDictionary()


def lean_layer(layer: Any, dtype: torch.dtype) -> LeanLayer:
    """The lean copy of a transformers BertLayer in `dtype`, made on first request.

    Taken once: weights changed later (training) are not seen."""
    copies = _COPIES.setdefault(layer, {})
    if dtype not in copies:
        def t(x: torch.Tensor) -> torch.Tensor:
            return x.detach().to(dtype).contiguous()

        att, out = layer.attention.self, layer.attention.output
        copies[dtype] = LeanLayer(
            t(torch.cat([att.query.weight, att.key.weight, att.value.weight])),
            t(torch.cat([att.query.bias, att.key.bias, att.value.bias])),
            t(out.dense.weight), t(out.dense.bias), t(out.LayerNorm.weight), t(out.LayerNorm.bias),
            t(layer.intermediate.dense.weight), t(layer.intermediate.dense.bias),
            t(layer.output.dense.weight), t(layer.output.dense.bias),
            t(layer.output.LayerNorm.weight), t(layer.output.LayerNorm.bias))
    return copies[dtype]


class LeanEncoder:
    def __init__(self, layers: Any, config: Any, dtype: torch.dtype = torch.bfloat16) -> None:
        """`layers`: a transformers BertEncoder's `layer` list; `config`: its BertConfig."""
        if config.hidden_act != "gelu":
            raise ValueError(f"lean layers implement hidden_act 'gelu', got {config.hidden_act!r}")
        self.heads = int(config.num_attention_heads)
        self.eps = float(config.layer_norm_eps)
        self.dtype = dtype
        self.layers = [lean_layer(layer, dtype) for layer in layers]

    def __call__(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states [B, T, H] in, the last layer's out (in self.dtype); `mask` [B, T], 1 = token."""
        h = h.to(self.dtype)
        batch, width, hidden = h.shape
        # a boolean mask broadcast over heads and query rows: True where attention may look
        keep = None if mask is None else mask.bool()[:, None, None, :]
        for p in self.layers:
            qkv = F.linear(h, p.qkv_w, p.qkv_b).view(batch, width, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)
            att = att.transpose(1, 2).reshape(batch, width, hidden)
            h = F.layer_norm(F.linear(att, p.out_w, p.out_b) + h, (hidden,), p.ln1_w, p.ln1_b, self.eps)
            up = F.gelu(F.linear(h, p.up_w, p.up_b))
            h = F.layer_norm(F.linear(up, p.down_w, p.down_b) + h, (hidden,), p.ln2_w, p.ln2_b, self.eps)
        return h
