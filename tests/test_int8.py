"""int8 lean layers (rag/runtime/int8.py): close to float32, calibrated, and refused when misused."""

from __future__ import annotations

import pytest
import torch

from rag.embed import Embedder
from rag.runtime.int8 import WEIGHT_MAX, Int8Dense, int8_encoder
from rag.runtime.lean import LeanEncoder


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def test_int8_dense_is_close_to_float32_even_with_an_outlier_channel() -> None:
    torch.manual_seed(0)
    w, b = torch.randn(48, 32), torch.randn(48)
    x = torch.randn(2, 7, 32)
    x[..., 5] *= 40  # one large channel, as e5's hidden states have
    want = torch.nn.functional.linear(x, w, b)
    got = Int8Dense(w, b, x.abs().reshape(-1, 32).amax(0))(x)
    assert got.shape == want.shape and got.dtype == torch.float32
    assert _cos(got, want) > 0.999
    # without smoothing (alpha 0) the outlier sets the activation scale for every channel
    plain = Int8Dense(w, b, x.abs().reshape(-1, 32).amax(0), alpha=0.0)(x)
    assert _cos(got, want) > _cos(plain, want)


def test_int8_dense_keeps_weights_to_seven_bits_and_checks_its_maxima() -> None:
    w = torch.randn(8, 4)
    d = Int8Dense(w, torch.zeros(8), torch.ones(4))
    q = torch.ops.quantized.linear_unpack(d.packed)[0].int_repr()
    assert int(q.abs().max()) == WEIGHT_MAX
    with pytest.raises(ValueError, match=r"input_max has shape \(3,\), expected \(4,\)"):
        Int8Dense(w, torch.zeros(8), torch.ones(3))


def test_int8_layers_follow_float32_on_real_text_including_padding_rows(embedder: Embedder) -> None:
    enc = embedder.encoder
    assert enc is not None
    model = enc.model
    texts = ["全省脱贫攻坚推进会在菏泽召开。", "中", "😀 emoji 与 English 混合"]
    ids = enc.token_ids(texts)
    width = max(map(len, ids))
    input_ids = torch.tensor([i + [enc.pad_id] * (width - len(i)) for i in ids])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids])
    calibration = [model.embeddings(input_ids=torch.tensor([i])) for i in ids]
    with torch.inference_mode():
        want = LeanEncoder(model.encoder.layer, model.config, torch.float32)(
            model.embeddings(input_ids=input_ids), mask)
        q8 = int8_encoder(model.encoder.layer, model.config, calibration)
        got = q8(model.embeddings(input_ids=input_ids), mask)
    real = mask.bool()
    assert got.dtype == torch.float32
    for row in range(len(texts)):  # every text, the one-character one too
        assert _cos(got[row][real[row]], want[row][real[row]]) > 0.99
    # its own copies: the shared float32 lean copies are not replaced
    assert q8.layers[0] is not LeanEncoder(model.encoder.layer, model.config, torch.float32).layers[0]


def test_int8_encoder_needs_a_calibration_sequence(embedder: Embedder) -> None:
    model = embedder.encoder.model
    with pytest.raises(ValueError, match="at least one calibration sequence"):
        int8_encoder(model.encoder.layer[:1], model.config, [])
