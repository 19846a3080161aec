"""Retrieval quality on CMRC 2018 trial (and optionally DRCD dev), all modes in one run.

    .venv/bin/python benchmarks/retrieval.py [--sizes 200,300,500] [--drcd]

Every context is chunked into one corpus; a chunk is relevant when it holds the
gold answer span (character offsets). Compared side by side, on the same chunks:
dense only, BM25 only (jieba and character bigrams), and hybrid RRF with the
configured weights; plus a naive baseline of fixed 500-character windows, dense only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EVAL, machine, write_report  # noqa: E402

from rag.chunking import Chunker  # noqa: E402
from rag.config import ChunkingConfig, Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.evaluation.datasets import load_dataset  # noqa: E402
from rag.evaluation.metrics import first_relevant_rank, recall_at  # noqa: E402
from rag.index.dense import build_faiss, search_faiss  # noqa: E402
from rag.index.lexical import LexicalIndex, tokenize  # noqa: E402
from rag.retrieve import rrf  # noqa: E402
from rag.types import Chunk, content_hash  # noqa: E402


def fixed_windows(doc, size: int = 500) -> list[Chunk]:
    """What a quick script does: cut every `size` characters, ignoring sentences."""
    return [Chunk(content_hash(f"{doc.id}:{i}"), doc.id, doc.source, i, min(i + size, len(doc.text)),
                  doc.text[i : i + size], (0, 0), 0) for i in range(0, len(doc.text), size)]


def evaluate(name: str, embedder: Embedder, config: Config, sizes: list[int]) -> list[str]:
    ds = load_dataset(EVAL / name)
    qs = [q for q in ds.questions if q.question.strip() and q.spans]
    qv = embedder.embed([q.question for q in qs], "query")
    r = config.retrieval
    rows: list[str] = []

    def run(label: str, chunks: list[Chunk], modes: dict[str, Callable]) -> None:
        t = time.perf_counter()
        vectors = embedder.embed([c.text for c in chunks], "passage")
        seconds = time.perf_counter() - t
        dense = build_faiss(vectors, "flat")
        lexical = {m: LexicalIndex(m).build([tokenize(c.text, m) for c in chunks])
                   for m in ("jieba", "bigram")}
        for mode, rank_fn in modes.items():
            ranks = [first_relevant_rank([q.held_by(chunks[c])
                                          for c in rank_fn(dense, lexical, qv[i], q.question)])
                     for i, q in enumerate(qs)]
            rows.append(f"| {name} | {label} | {len(chunks)} | {mode} | {recall_at(ranks, 1):.4f} | "
                        f"{recall_at(ranks, 5):.4f} | {recall_at(ranks, 10):.4f} | {seconds:.0f} |")

    def fused(method: str):
        def rank(dense, lexical, v, text):
            score = rrf(search_faiss(dense, v, r.dense_k)[0].tolist(),
                        lexical[method].search(text, r.lexical_k)[0].tolist(), r)
            return list(score)
        return rank

    modes = {
        "dense only": lambda dense, lex, v, t: search_faiss(dense, v, 30)[0].tolist(),
        "BM25 only (jieba)": lambda dense, lex, v, t: lex["jieba"].search(t, 30)[0].tolist(),
        "BM25 only (bigram)": lambda dense, lex, v, t: lex["bigram"].search(t, 30)[0].tolist(),
        "hybrid RRF (jieba)": fused("jieba"),
        "hybrid RRF (bigram)": fused("bigram"),
    }
    for size in sizes:
        chunker = Chunker(ChunkingConfig(chunk_chars=size, overlap_sentences=1,
                                         max_sentence_chars=config.chunking.max_sentence_chars))
        run(f"sentences, {size} chars", [c for d in ds.documents for c in chunker.chunk(d)], modes)
    run("naive: fixed 500 chars", [c for d in ds.documents for c in fixed_windows(d)],
        {"dense only": modes["dense only"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="200,300,500")
    parser.add_argument("--drcd", action="store_true", help="also DRCD dev (slow: 1,000 contexts)")
    args = parser.parse_args()
    config = Config.load()
    embedder = Embedder(config.embedding)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = evaluate("cmrc2018_trial.json", embedder, config, sizes)
    if args.drcd:
        rows += evaluate("DRCD_dev.json", embedder, config, sizes)
    r = config.retrieval
    lines = ["# Retrieval quality: chunk recall@k", "", f"Machine: {machine()}", "",
             f"Fusion: RRF, dense weight {r.dense_weight}, lexical weight {r.lexical_weight}, "
             f"k={r.rrf_k}, depth {r.dense_k}/{r.lexical_k}. A chunk is relevant when it holds the "
             "gold answer span. All rows measured in this one run.", "",
             "| set | chunks | n chunks | mode | recall@1 | recall@5 | recall@10 | embed s |",
             "|---|---|---:|---|---:|---:|---:|---:|", *rows]
    write_report("retrieval.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
