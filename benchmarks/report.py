"""The benchmark report: quality, build throughput, query latency and memory, in ONE run.

    .venv/bin/python benchmarks/report.py [--skip-drcd]

Writes benchmarks/REPORT.md and benchmarks/reports/report.png. Every number in
the report is measured by this run, on this machine, side by side with its baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import (  # noqa: E402
    EVAL,
    REPORTS,
    ROOT,
    article_questions,
    build_texts,
    flops_per_token,
    machine,
    memory_mb,
    peak_gflops,
    serving,
)
from retrieval import fixed_windows  # noqa: E402

from rag.chunking import Chunker  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.evaluation.datasets import load_dataset  # noqa: E402
from rag.evaluation.metrics import first_relevant_rank, recall_at  # noqa: E402
from rag.index.dense import build_faiss, search_faiss  # noqa: E402
from rag.index.lexical import LexicalIndex, tokenize  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.retrieve import rrf  # noqa: E402


def quality(name: str, embedder: Embedder, config: Config) -> dict[str, dict[str, float]]:
    ds = load_dataset(EVAL / name)
    qs = [q for q in ds.questions if q.question.strip() and q.spans]
    qv = embedder.embed([q.question for q in qs], "query")
    r = config.retrieval

    def ranks(chunks, order_fn) -> list[int | None]:
        return [first_relevant_rank([q.held_by(chunks[c]) for c in order_fn(i, q)])
                for i, q in enumerate(qs)]

    chunker = Chunker(config.chunking)
    chunks = [c for d in ds.documents for c in chunker.chunk(d)]
    dense = build_faiss(embedder.embed([c.text for c in chunks], "passage"), "flat")
    lex = LexicalIndex(config.index.lexical_tokenizer).build(
        [tokenize(c.text, config.index.lexical_tokenizer) for c in chunks])

    def hybrid(i, q):
        score = rrf(search_faiss(dense, qv[i], r.dense_k)[0].tolist(),
                    lex.search(q.question, r.lexical_k)[0].tolist(), r)
        return list(score)

    naive = [c for d in ds.documents for c in fixed_windows(d)]
    naive_dense = build_faiss(embedder.embed([c.text for c in naive], "passage"), "flat")
    results = {
        "ours (hybrid)": ranks(chunks, hybrid),
        "BM25 only": ranks(chunks, lambda i, q: lex.search(q.question, 30)[0].tolist()),
        "dense only": ranks(chunks, lambda i, q: search_faiss(dense, qv[i], 30)[0].tolist()),
        "naive 500-char, dense": ranks(naive, lambda i, q: search_faiss(naive_dense, qv[i], 30)[0].tolist()),
    }
    return {k: {"recall@1": recall_at(v, 1), "recall@5": recall_at(v, 5), "recall@10": recall_at(v, 10)}
            for k, v in results.items()}


def throughput(embedder: Embedder, config: Config) -> dict[str, float]:
    """The index build's embedding work (CMRC chunks + sentences): ours in the configured
    dtype, ours in float32, and plain eager float32 torch; plus the bfloat16 quality loss."""
    texts = build_texts(config.chunking)
    prompt = config.embedding.passage_prompt

    def rate(e: Embedder, repeat: int = 3) -> tuple[float, np.ndarray]:
        e.embed(texts[:16])  # warm up
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            vectors = e.embed(texts)
            runs.append(time.perf_counter() - t)
        return tokens / statistics.median(runs), vectors

    fp32 = Embedder(dataclasses.replace(config.embedding, dtype="float32"))
    tok = fp32.model.tokenizer
    lengths = [min(len(ids), 512) for ids in tok([prompt + t for t in texts])["input_ids"]]
    tokens = sum(lengths)
    ours, ours_vectors = rate(embedder)
    ours_fp32, fp32_vectors = rate(fp32)
    cos = (ours_vectors * fp32_vectors).sum(axis=1)
    hf = fp32.model[0].auto_model  # the same weights, driven the plain way: input order, no_grad
    t = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            batch = tok([prompt + x for x in texts[i : i + 32]], padding=True, truncation=True,
                        max_length=512, return_tensors="pt")
            out = hf(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1)
            torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1), dim=-1)
    eager = tokens / (time.perf_counter() - t)
    gflops = peak_gflops()
    limit = gflops * 1e9 / flops_per_token(seq=float(np.mean(lengths)))
    return {"texts": len(texts), "tokens": tokens, "mean_tokens": tokens / len(texts),
            "peak_gflops": gflops, "limit_tokens_per_s": limit, "dtype": embedder.dtype,
            "ours_tokens_per_s": ours, "fp32_tokens_per_s": ours_fp32, "eager_tokens_per_s": eager,
            "cos_mean": float(cos.mean()), "cos_min": float(cos.min())}


def latency(config: Config, embedder: Embedder) -> dict[str, dict[str, float]]:
    p = Pipeline(config, embedder=embedder)
    questions = article_questions()
    for q in questions:
        p.answer(q)
    stages: dict[str, list[float]] = {}
    base = []
    for _ in range(3):
        for q in questions:
            a = p.answer(q)
            for k, v in a.timings_ms.items():
                stages.setdefault(k, []).append(v)
            t = time.perf_counter()
            v = embedder.model.encode([q], prompt_name="query", normalize_embeddings=True)[0]
            search_faiss(p.index.search.dense, v, 5)
            base.append((time.perf_counter() - t) * 1e3)
    stages["baseline ST+FAISS"] = base
    return {k: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}
            for k, v in stages.items()}


def serve_memory() -> float:
    """Peak RSS (MB) of `rag serve` after it has answered a few questions."""
    with serving() as (proc, url):
        from gradio_client import Client

        client = Client(url, verbose=False)
        for q in ("全省脱贫攻坚推进会在哪里召开？", "会议由谁主持？", "菏泽的GDP是多少？"):
            client.predict(q, api_name="/ask")
        return memory_mb(proc.pid, "VmHWM")


def plot(q: dict, tp: dict, lat: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    names = list(next(iter(q.values())))
    width = 0.8 / len(q)
    for j, (ds, res) in enumerate(q.items()):
        axes[0].bar(np.arange(len(names)) + j * width, [res[n]["recall@5"] for n in names], width, label=ds)
    axes[0].set_xticks(np.arange(len(names)) + width * (len(q) - 1) / 2, names, rotation=15, fontsize=8)
    axes[0].set_ylim(0.8, 1.0)
    axes[0].set_title("chunk recall@5")
    axes[0].legend(fontsize=8)
    axes[1].bar(["fp32 limit", f"ours ({tp['dtype']})", "ours (float32)", "plain eager fp32"],
                [tp["limit_tokens_per_s"], tp["ours_tokens_per_s"], tp["fp32_tokens_per_s"],
                 tp["eager_tokens_per_s"]],
                color=["grey", "tab:green", "tab:olive", "tab:orange"])
    axes[1].tick_params(axis="x", labelsize=8)
    axes[1].set_title("index build embedding, tokens/s")
    keys = [k for k in ("embed", "retrieve", "answer", "total", "baseline ST+FAISS") if k in lat]
    axes[2].bar(keys, [lat[k]["p50"] for k in keys], label="p50")
    axes[2].bar(keys, [lat[k]["p95"] - lat[k]["p50"] for k in keys], bottom=[lat[k]["p50"] for k in keys],
                label="p95", alpha=0.5)
    axes[2].set_title("query latency, ms")
    axes[2].legend(fontsize=8)
    axes[2].tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-drcd", action="store_true")
    args = parser.parse_args()
    config = Config.load()
    embedder = Embedder(config.embedding)
    sets = ["cmrc2018_trial.json"] + ([] if args.skip_drcd else ["DRCD_dev.json"])
    q = {name.split(".")[0]: quality(name, embedder, config) for name in sets}
    tp = throughput(embedder, config)
    lat = latency(config, embedder)
    mem = serve_memory()
    REPORTS.mkdir(parents=True, exist_ok=True)
    plot(q, tp, lat, REPORTS / "report.png")
    lines = ["# rag-zh benchmark report", "", f"Machine: {machine()}", "",
             "All numbers below come from one run of `benchmarks/report.py` on this machine.", "",
             "## 1. Retrieval quality (chunk holding the gold span)", "",
             "| set | method | recall@1 | recall@5 | recall@10 |", "|---|---|---:|---:|---:|"]
    for ds, res in q.items():
        lines += [f"| {ds} | {m} | {v['recall@1']:.4f} | {v['recall@5']:.4f} | {v['recall@10']:.4f} |"
                  for m, v in res.items()]
    lines += ["", "## 2. Index build throughput", "",
              f"Workload: the index build's own texts for 80 CMRC contexts ({tp['texts']} chunks and "
              f"sentences, {tp['tokens']} tokens, {tp['mean_tokens']:.0f} per text).", "",
              f"- peak fp32 matmul (torch, {torch.get_num_threads()} threads, 2048²): "
              f"{tp['peak_gflops']:.1f} GFLOP/s",
              f"- multilingual-e5-small: {flops_per_token(seq=tp['mean_tokens']) / 1e6:.1f} MFLOP/token",
              f"- limit: {tp['limit_tokens_per_s']:,.0f} tokens/s", "",
              "| run | tokens/s | share of the fp32 limit | vs plain eager |", "|---|---:|---:|---:|"]
    for name, key in ((f"ours, {tp['dtype']} (the default: `embedding.dtype: auto`)", "ours_tokens_per_s"),
                      ("ours, float32 (length-sorted batches, inference mode)", "fp32_tokens_per_s"),
                      ("plain eager float32 torch, input order, no_grad", "eager_tokens_per_s")):
        lines.append(f"| {name} | {tp[key]:,.0f} | {tp[key] / tp['limit_tokens_per_s']:.0%} "
                     f"| {tp[key] / tp['eager_tokens_per_s']:.2f} |")
    lines += ["", f"Quality cost of {tp['dtype']}: cosine to the float32 vectors of the same texts, "
              f"mean {tp['cos_mean']:.5f}, min {tp['cos_min']:.5f} (retrieval in section 1 runs in "
              f"{tp['dtype']}). Threads: torch's default {torch.get_num_threads()}, one per core.",
              "", "## 3. Query latency (extractive path, bundled article, warm)", "",
              "| stage | p50 ms | p95 ms |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['p50']:.2f} | {v['p95']:.2f} |" for k, v in lat.items()]
    lines += ["", "## 4. Memory", "",
              f"Peak RSS of `rag serve` after answering three questions: {mem:.0f} MB (target ≤ 1,200 MB).",
              "", "![report](reports/report.png)", ""]
    text = "\n".join(lines)
    (ROOT / "benchmarks" / "REPORT.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    main()
