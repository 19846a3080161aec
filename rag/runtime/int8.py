"""Lean encoder layers with int8 weights: for CPUs where float32 is the fastest float path.

Where bfloat16 is only emulated (AVX2 without AVX512-BF16 or AMX), every float matmul
runs in float32. int8 matmuls sum four times as many products per instruction. Each
linear map y = x W^T + b becomes:

  1. smoothing: x / s and W * s, per input channel c, with
     s_c = max|x_c|^alpha / max|W_c|^(1 - alpha) (SmoothQuant). A few channels of the hidden
     states are far larger than the rest; this moves part of their range into the weights,
     so that one activation scale per call no longer crushes every other channel;
  2. weights in int8, one symmetric scale per output row, kept to 7 bits (|q| <= 63);
  3. activations quantized per call to 8 bits (torch's dynamic quantized linear), int8
     products summed in int32, and the result scaled back to float32.

7-bit weights with 8-bit activations: the x86 kernels without VNNI add pairs of
u8 x s8 products in int16, and 255 * 63 * 2 fits where 255 * 127 * 2 does not. (torch's
usual fix, reduce_range, would cut the activations, the side with outliers, to 7 bits.)

The maxima max|x_c| come from running float32 copies of the same layers over a few
calibration sequences first. Faithful enough is measured, never assumed: on the validation
questions it cost EM 0.479 -> 0.465 (benchmarks/reports/reader_int8_validation.md), so the
reader runs it only when answer.reader_dtype names it (rag/reader/reader.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import torch

from rag.runtime.lean import Dense, LeanEncoder, build_layer

ALPHA = 0.7  # smoothing strength; 0 = none, 1 = all of the activations' range into the weights
WEIGHT_MAX = 63  # 7-bit weights, see the module docstring


class Int8Dense:
    """A linear map with smoothed, per-row int8 weights, for float32 inputs."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, input_max: torch.Tensor,
                 alpha: float = ALPHA) -> None:
        w = weight.detach().float()
        if input_max.shape != (w.shape[1],):
            raise ValueError(f"input_max has shape {tuple(input_max.shape)}, "
                             f"expected ({w.shape[1]},) for a weight of shape {tuple(w.shape)}")
        smooth = (input_max.float().clamp(min=1e-5) ** alpha
                  / w.abs().amax(dim=0).clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)
        w = w * smooth
        self.inverse_smooth = (1 / smooth).contiguous()
        scales = (w.abs().amax(dim=1) / WEIGHT_MAX).clamp(min=1e-12).double()
        zeros = torch.zeros_like(scales, dtype=torch.long)
        with warnings.catch_warnings():  # deprecated after torch 2.13, which pyproject pins
            warnings.filterwarnings("ignore", message="torch.quantize_per_tensor, torch.quantize_per_channel")
            q = torch.quantize_per_channel(w, scales, zeros, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(q, bias.detach().float().contiguous())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x * self.inverse_smooth, self.packed, False)


class _Recorder:
    """A float32 linear map that keeps the largest |input| it has seen, per channel."""

    def __init__(self, dense: Dense) -> None:
        self.dense = dense
        self.max = torch.zeros(dense.weight.shape[1])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.max = torch.maximum(self.max, x.detach().abs().reshape(-1, x.shape[-1]).amax(dim=0))
        return self.dense(x)


def int8_encoder(layers: Any, config: Any, calibration: Iterable[torch.Tensor],
                 alpha: float = ALPHA) -> LeanEncoder:
    """A LeanEncoder over `layers` with int8 linear maps, smoothed by the input maxima seen
    on `calibration`: embedding outputs [1, T, H] of unpadded sequences, as the first layer
    would get them."""
    # 1. float32 copies of the layers whose linear maps record their inputs
    recorders: list[_Recorder] = []

    def record(weight: torch.Tensor, bias: torch.Tensor) -> _Recorder:
        recorders.append(_Recorder(Dense(weight, bias, torch.float32)))
        return recorders[-1]

    probe = LeanEncoder(layers, config, torch.float32, lean=[build_layer(x, torch.float32, record)
                                                             for x in layers])
    # 2. the calibration sequences through them
    seen = 0
    with torch.inference_mode():
        for h in calibration:
            probe(h)
            seen += 1
    if not seen:
        raise ValueError("int8_encoder needs at least one calibration sequence")
    # 3. each linear map again, quantized with its recorded maxima (built in the same order)
    maxima = iter([r.max for r in recorders])

    def quantize(weight: torch.Tensor, bias: torch.Tensor) -> Int8Dense:
        return Int8Dense(weight, bias, next(maxima), alpha)

    return LeanEncoder(layers, config, torch.float32, lean=[build_layer(x, torch.float32, quantize)
                                                            for x in layers])
