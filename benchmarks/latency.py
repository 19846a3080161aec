"""Warm query latency of rag.answer on the bundled article, stage by stage.

    .venv/bin/python benchmarks/latency.py [--rounds 5]

Every question of tests/data/article_qa.jsonl is asked `rounds` times after a
warm-up. Reports p50/p95 end to end and per stage, next to a baseline measured
in the same run: plain sentence-transformers query embedding + FAISS search.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import article_questions, machine, write_report  # noqa: E402

from rag.evaluation.metrics import percentile  # noqa: E402
from rag.index.dense import search_faiss  # noqa: E402
from rag.pipeline import default_pipeline  # noqa: E402

STAGES = ("check", "embed", "retrieve", "answer", "total")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    questions = article_questions()
    pipeline = default_pipeline()
    for q in questions:  # warm-up: model loaded, index built/loaded, jieba initialized
        pipeline.answer(q)
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    wall: list[float] = []
    baseline: list[float] = []
    model, index = pipeline.embedder.model, pipeline.index
    for _ in range(args.rounds):
        for q in questions:
            t = time.perf_counter()
            a = pipeline.answer(q)
            wall.append((time.perf_counter() - t) * 1e3)
            for s in STAGES:
                stages[s].append(a.timings_ms[s])
            t = time.perf_counter()
            v = model.encode([q], prompt_name="query", normalize_embeddings=True)[0]
            search_faiss(index.search.dense, v, 5)
            baseline.append((time.perf_counter() - t) * 1e3)
    lines = [
        "# Query latency: rag.answer on the bundled article (warm)",
        "",
        f"Machine: {machine()}",
        f"{len(wall)} answers ({len(questions)} questions × {args.rounds} rounds), "
        f"index of {len(index.chunks)} chunks / {len(index.sentences)} sentences.",
        "",
        "| what | p50 ms | p95 ms | mean ms |",
        "|---|---:|---:|---:|",
        f"| rag.answer, end to end (wall) | {percentile(wall, 50):.1f} | {percentile(wall, 95):.1f} | "
        f"{statistics.mean(wall):.1f} |",
    ]
    for s in STAGES:
        lines.append(f"| stage: {s} | {percentile(stages[s], 50):.2f} | {percentile(stages[s], 95):.2f} | "
                     f"{statistics.mean(stages[s]):.2f} |")
    lines.append("| baseline: sentence-transformers encode + FAISS search | "
                 f"{percentile(baseline, 50):.1f} | {percentile(baseline, 95):.1f} | "
                 f"{statistics.mean(baseline):.1f} |")
    ratio = percentile(wall, 50) / percentile(baseline, 50)
    lines += ["", f"Ratio of p50s, rag.answer / baseline: {ratio:.2f}. Targets: p50 ≤ 30 ms, p95 ≤ 60 ms."]
    write_report("latency.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
