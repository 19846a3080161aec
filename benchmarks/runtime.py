"""Runtime selection by measurement: what this machine chose, and what it buys.

    .venv/bin/python benchmarks/runtime.py [--repeat 3] [--contexts 80] [--report runtime.md]

Prints the CPU with its AMX / AVX512-BF16 / AVX2 flags and the torch matmul peaks,
measures the choices afresh (into a temporary cache), then puts each figure next to
plain sentence-transformers measured in the same run:
  - index build: tokens/s on CMRC chunks and sentences, as a share of the limit set by the
    faster matmul (bfloat16 where the CPU has it; a CPU without it emulates bfloat16, slowly);
  - one short query embedded (p50 / p95 over the article's questions);
  - the reader on a batch of windows;
  - warm `rag.answer` on the article, reader off and on.
Run it alone: another CPU-heavy job on 2 cores ruins every number here.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    article_questions,
    build_texts,
    flops_per_token,
    machine,
    peak_gflops,
    write_report,
)

from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.evaluation.metrics import percentile  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.runtime import Planner, min_row_cosine  # noqa: E402


class LibraryEmbedder(Embedder):
    """The baseline: sentence-transformers' own encode, float32, its default batch size of 32."""

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:  # type: ignore[override]
        return self._library_embed(texts, kind)  # type: ignore[arg-type]


def percentiles(fn: Callable[[str], object], items: Sequence[str], repeat: int) -> tuple[float, float]:
    for x in items:  # warm
        fn(x)
    runs = []
    for _ in range(repeat):
        for x in items:
            t = time.perf_counter()
            fn(x)
            runs.append((time.perf_counter() - t) * 1e3)
    return percentile(runs, 50), percentile(runs, 95)


def build_rate(e: Embedder, texts: list[str], tokens: int, repeat: int) -> tuple[float, np.ndarray]:
    e.embed(texts[:16])
    runs, vectors = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        vectors = e.embed(texts)
        runs.append(time.perf_counter() - t)
    return tokens / statistics.median(runs), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--contexts", type=int, default=80)
    parser.add_argument("--report", default="runtime.md",
                        help="file name under benchmarks/reports (one per CPU vendor measured)")
    args = parser.parse_args()
    config = Config.load()
    cache = Path(tempfile.mkdtemp(prefix="rag-runtime-"))
    ours = Embedder(config.embedding)
    ours.planner = Planner(cache, ours.planner.model)  # measure afresh, leave models/ alone
    base = LibraryEmbedder(dataclasses.replace(config.embedding, dtype="float32", batch_size=32))
    planner = ours.planner
    chosen = {}
    t = time.perf_counter()
    ours.plan("passage")
    ours.plan("query")
    chosen["passages"], chosen["query"] = planner.cached("passages"), planner.cached("query")
    measure_s = time.perf_counter() - t

    # 1. peaks and the build
    fp32_peak, bf16_peak = peak_gflops("float32"), peak_gflops("bfloat16")
    texts = build_texts(config.chunking, args.contexts)
    tokens = base.count_tokens(texts)
    mean_len = tokens / len(texts)
    fast = "bfloat16" if bf16_peak >= fp32_peak else "float32"
    limit = max(fp32_peak, bf16_peak) * 1e9 / flops_per_token(seq=mean_len)
    ours_rate, ours_vec = build_rate(ours, texts, tokens, args.repeat)
    base_rate, base_vec = build_rate(base, texts, tokens, args.repeat)
    build_cos = min_row_cosine(ours_vec, base_vec)

    # 2. one short query, 3. warm rag.answer, 4. the reader
    questions = article_questions()
    q_ours = percentiles(lambda q: ours.embed([q], "query"), questions, args.repeat)
    q_base = percentiles(lambda q: base.embed([q], "query"), questions, args.repeat)
    q_cos = min_row_cosine(ours.embed(questions, "query"), base.embed(questions, "query"))
    with tempfile.TemporaryDirectory() as tmp:
        rows = {}
        for label, reader, emb in [("reader off, ours", None, ours), ("reader off, baseline", None, base),
                                   (f"{config.answer.reader}, ours", config.answer.reader, ours),
                                   (f"{config.answer.reader}, baseline", config.answer.reader, base)]:
            cfg = config.replace(index={"root": tmp}, answer={"reader": reader})
            if emb is base:  # the baseline embeds and reads in float32
                cfg = cfg.replace(embedding={"dtype": "float32"}, answer={"reader_dtype": "float32"})
            p = Pipeline(cfg, embedder=emb)
            rows[label] = percentiles(p.answer, questions, args.repeat)
            if reader and emb is ours:
                answerer = p.answerer  # type: ignore[attr-defined]
                chosen["reader"] = planner.cached(f"reader/{Path(reader).name}")
                spans_ours = reader_latency(answerer.reader, questions, args.repeat)
            elif reader:  # the baseline's own float32 reader (ours may have let its float32 layers go)
                spans_fp32 = reader_latency(p.answerer.reader, questions, args.repeat)  # type: ignore[attr-defined]

    lines = [
        "# Runtime chosen by measurement",
        "",
        f"Machine: {machine()}",
        f"CPU flags: {planner.machine.describe()}",
        "",
        "| matmul 2048² (torch) | GFLOP/s | e5-small limit at this mean length |",
        "|---|---:|---:|",
        f"| float32 | {fp32_peak:.0f} | {fp32_peak * 1e9 / flops_per_token(seq=mean_len):,.0f} tokens/s |",
        f"| bfloat16 | {bf16_peak:.0f} | {bf16_peak * 1e9 / flops_per_token(seq=mean_len):,.0f} tokens/s |",
        "",
        f"Choices measured in this run ({measure_s:.1f} s, cosine floor 0.999 to float32):",
        "",
        "| shape | chosen | every candidate, median ms |",
        "|---|---|---|",
    ]
    for shape, m in chosen.items():
        if m is not None:
            cands = ", ".join(f"{k} {v:.1f}" for k, v in sorted(m.median_ms.items(), key=lambda kv: kv[1]))
            lines.append(f"| {shape} | {m.best} | {cands} |")
    lines += [
        "",
        f"Index build: {len(texts)} chunks and sentences of {args.contexts} CMRC trial contexts, "
        f"{tokens:,} tokens (mean {mean_len:.0f}); median of {args.repeat}.",
        "",
        "| | ours (measured) | sentence-transformers float32, batch 32 | ratio |",
        "|---|---:|---:|---:|",
        f"| build tokens/s | {ours_rate:,.0f} | {base_rate:,.0f} | {ours_rate / base_rate:.2f} |",
        f"| share of the {fast} limit | {ours_rate / limit:.0%} | {base_rate / limit:.0%} | |",
        f"| one query, p50 ms | {q_ours[0]:.1f} | {q_base[0]:.1f} | {q_base[0] / q_ours[0]:.2f}× faster |",
        f"| one query, p95 ms | {q_ours[1]:.1f} | {q_base[1]:.1f} | |",
    ]
    for label in ("reader off", f"{config.answer.reader}"):
        o, b = rows[f"{label}, ours"], rows[f"{label}, baseline"]
        lines.append(f"| rag.answer {label}, p50 / p95 ms | {o[0]:.1f} / {o[1]:.1f} | "
                     f"{b[0]:.1f} / {b[1]:.1f} | {b[0] / o[0]:.2f}× faster |")
    lines += [
        f"| reader alone (its windows), p50 / p95 ms | {spans_ours[0]:.1f} / {spans_ours[1]:.1f} | "
        f"float32: {spans_fp32[0]:.1f} / {spans_fp32[1]:.1f} | {spans_fp32[0] / spans_ours[0]:.2f}× faster |",
        "",
        f"Vectors: build rows min cosine {build_cos:.5f} to the baseline's float32; "
        f"queries {q_cos:.6f}.",
        f"rag.answer: the {len(questions)} article questions, warm, {args.repeat} rounds; the baseline "
        "pipeline embeds with sentence-transformers (float32, batch 32) and runs the reader in float32.",
    ]
    write_report(args.report, "\n".join(lines) + "\n")


def reader_latency(reader, questions: Sequence[str], repeat: int) -> tuple[float, float]:
    """The reader on the fixed reading windows, once per question, in the dtype it runs in."""
    from rag.runtime import workload

    windows = workload.reader_windows()
    return percentiles(lambda q: reader.read(q, windows), questions, repeat)


if __name__ == "__main__":
    main()
