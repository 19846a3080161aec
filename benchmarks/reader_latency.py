"""Warm rag.answer on the bundled article: reader on vs off, in one run; and `rag serve` memory.

    .venv/bin/python benchmarks/reader_latency.py [--rounds 5] [--dtypes float32,bfloat16]
        [--no-serve] [--report reader_latency.md]

Both pipelines share one embedder and one index, so the difference is the reader
alone. The reader runs once per `--dtypes` path (answer.reader_dtype; by default float32
and bfloat16 autocast, int8 on request). Peak RSS of
`rag serve` (reader on) is measured after it answered three questions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import article_questions, machine, write_report  # noqa: E402
from report import serve_memory  # noqa: E402

from rag.answerers import ReaderAnswerer  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.evaluation.metrics import percentile  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.reader.loading import shared_base  # noqa: E402
from rag.reader.reader import SpanReader  # noqa: E402
from rag.reader.weights import DEFAULT_READER  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-serve", action="store_true", help="Skip the rag serve memory measurement.")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="reader paths, comma-separated")
    parser.add_argument("--report", default="reader_latency.md", help="file name under benchmarks/reports/")
    args = parser.parse_args()
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    questions = article_questions()
    config = Config.load()
    name = config.answer.reader or DEFAULT_READER
    hand = Pipeline(config.replace(answer={"reader": None}))
    variants: dict[str, Pipeline] = {"reader off (sentences)": hand}
    for dtype in dtypes:
        p = hand.with_index(hand.index, config=config.replace(answer={"reader": name}))
        reader = SpanReader(name, lambda: shared_base(hand.embedder), dtype)
        p.answerer = ReaderAnswerer(p.config.answer, reader)
        variants[f"reader on, {dtype}"] = p
    for p in variants.values():  # warm-up: models loaded, jieba initialized
        for q in questions:
            p.answer(q)
    wall: dict[str, list[float]] = {k: [] for k in variants}
    answer_stage: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for q in questions:
            for k, p in variants.items():  # interleaved, so machine noise hits all alike
                t = time.perf_counter()
                a = p.answer(q)
                wall[k].append((time.perf_counter() - t) * 1e3)
                answer_stage[k].append(a.timings_ms["answer"])
    base = percentile(wall["reader off (sentences)"], 50)
    lines = [
        "# Reader latency: warm rag.answer on the bundled article",
        "",
        f"Machine: {machine()}",
        f"{len(questions)} questions × {args.rounds} rounds per variant, interleaved; "
        f"{config.answer.reader_windows} windows read per question.",
        "",
        "| variant | p50 ms | p95 ms | answer stage p50 ms | p50 / reader off |",
        "|---|---:|---:|---:|---:|",
    ]
    for k in variants:
        lines.append(f"| {k} | {percentile(wall[k], 50):.1f} | {percentile(wall[k], 95):.1f} | "
                     f"{percentile(answer_stage[k], 50):.1f} | {percentile(wall[k], 50) / base:.2f} |")
    lines += ["", "Targets (reader issue): p50 ≤ 150 ms, p95 ≤ 300 ms with the reader on."]
    if not args.no_serve:
        mem = serve_memory()
        lines += ["", f"Peak RSS of `rag serve` (reader on) after three questions: {mem:.0f} MB "
                  "(target ≤ 1,300 MB)."]
    write_report(args.report, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
