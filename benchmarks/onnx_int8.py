"""The ONNX Runtime alternative, float32 and int8, against our torch embedder on the same texts.

    pip install onnxruntime onnx      # not project dependencies: this is an experiment
    .venv/bin/python benchmarks/onnx_int8.py [--repeat 3]

The workload is the report's: the index build's chunks and sentences for 80 CMRC contexts.
The model is exported with torch.onnx (last hidden state; mean pooling and normalization
in numpy, as sentence-transformers does) and quantized with onnxruntime's dynamic int8
(per-channel weights). Every run uses length-sorted batches of 32 on torch's thread count.
Quality loss is the cosine to the float32 torch vectors of the same texts.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import build_texts, machine, write_report  # noqa: E402

from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402


def export(embedder: Embedder, folder: Path) -> tuple[Path, Path]:
    """float32 and int8 ONNX files of the embedder's transformer."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Encoder(torch.nn.Module):  # positional inputs, one output, for the exporter
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    fp32, int8 = folder / "e5.onnx", folder / "e5.int8.onnx"
    dummy = embedder.model.tokenizer(["passage: 你好", "passage: 世界和平"], padding=True,
                                     return_tensors="pt")
    axes = {"b": 0, "s": 1}
    torch.onnx.export(Encoder(embedder.model[0].auto_model.eval()),
                      (dummy["input_ids"], dummy["attention_mask"]), str(fp32),
                      input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                      dynamic_axes={n: {v: k for k, v in axes.items()}
                                    for n in ("input_ids", "attention_mask", "hidden")},
                      opset_version=17, dynamo=False)
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return fp32, int8


def onnx_embed(path: Path, tokenizer, threads: int) -> Callable[[list[str]], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def embed(texts: list[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # length-sorted batches
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i in range(0, len(order), 32):
            idx = order[i : i + 32]
            batch = tokenizer(["passage: " + texts[j] for j in idx], padding=True, truncation=True,
                              max_length=512, return_tensors="np")
            hidden = session.run(None, {k: batch[k].astype(np.int64)
                                        for k in ("input_ids", "attention_mask")})[0]
            mask = batch["attention_mask"][..., None]
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return embed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        sys.exit("onnxruntime is not installed: pip install onnxruntime onnx")
    import torch

    config = Config.load()
    texts = build_texts(config.chunking)
    ours = Embedder(config.embedding)
    fp32 = Embedder(dataclasses.replace(config.embedding, dtype="float32"))
    tok = fp32.model.tokenizer
    tokens = sum(min(len(ids), 512) for ids in tok(["passage: " + t for t in texts])["input_ids"])
    reference = fp32.embed(texts)
    ours.embed(texts[:4])  # loads the model, which settles its dtype
    with tempfile.TemporaryDirectory() as tmp:
        # from a model of its own: exporting changes the exported model's later outputs
        # (cosine 0.977 to before, measured), which would spoil the torch float32 row
        onnx_fp32, onnx_int8 = export(Embedder(dataclasses.replace(config.embedding, dtype="float32")),
                                      Path(tmp))
        runs = {
            f"torch {ours.dtype} (ours, default)": lambda t: ours.embed(t),
            "torch float32 (ours, embedding.dtype: float32)": lambda t: fp32.embed(t),
            "onnxruntime float32": onnx_embed(onnx_fp32, tok, torch.get_num_threads()),
            "onnxruntime int8 (dynamic, per-channel)": onnx_embed(onnx_int8, tok,
                                                                  torch.get_num_threads()),
        }
        rows = []
        for name, embed in runs.items():
            embed(texts[:16])  # warm up
            seconds = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                vectors = embed(texts)
                seconds.append(time.perf_counter() - t)
            cos = (vectors * reference).sum(axis=1)
            rows.append((name, tokens / statistics.median(seconds), cos.mean(), cos.min()))
    base = rows[1][1]
    lines = ["# Embedding backends: torch vs ONNX Runtime (float32 and int8)", "",
             f"Machine: {machine()}", "",
             f"Workload: {len(texts)} chunks and sentences of 80 CMRC contexts, {tokens} tokens. "
             f"Median of {args.repeat} runs; cosine against torch float32 vectors.", "",
             "| backend | tokens/s | vs torch float32 | cosine mean | cosine min |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {r:,.0f} | {r / base:.2f} | {m:.5f} | {lo:.5f} |" for n, r, m, lo in rows]
    write_report("onnx_int8.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
