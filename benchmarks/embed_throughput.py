"""Embedding throughput (tokens/s) on the CMRC 2018 trial contexts, in batches.

    .venv/bin/python benchmarks/embed_throughput.py [--repeat 3] [--limit 256]

Tokens are counted as the model sees them: "passage: " prompt and specials
included, truncated at 512. Reports the median of the runs. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from _common import EVAL, machine, timed, write_report  # noqa: E402

from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402


def contexts(limit: int) -> list[str]:
    path = EVAL / "cmrc2018_trial.json"
    if not path.is_file():
        sys.exit(f"{path} not found: this benchmark needs ../shared/eval")
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [p["context"] for a in data for p in a["paragraphs"]][:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=256)
    args = parser.parse_args()
    texts = contexts(args.limit)
    embedder = Embedder(Config.load().embedding)
    tokens = embedder.count_tokens(texts, "passage")
    embedder.embed(texts[:8])  # warm up
    rows = []
    for batch in (16, 32, 64):
        embedder.config = dataclasses.replace(embedder.config, batch_size=batch)
        median, runs = timed(lambda: embedder.embed(texts, "passage"), args.repeat)
        rows.append((batch, median, tokens / median, runs))
    lines = [
        "# Embedding throughput: multilingual-e5-small on CMRC 2018 trial contexts",
        "",
        f"Machine: {machine()}",
        f"Texts: {len(texts)} contexts, {tokens} tokens (prompt and specials included, ≤512 each).",
        f"Median of {args.repeat} runs each.",
        "",
        "| batch size | median s | tokens/s | runs (s) |",
        "|---:|---:|---:|---|",
    ]
    lines += [f"| {b} | {m:.2f} | {t:,.0f} | {', '.join(f'{r:.2f}' for r in runs)} |"
              for b, m, t, runs in rows]
    write_report("embed_throughput.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
