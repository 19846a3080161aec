"""How far the FAISS default goes, and when to move to Milvus: build time, disk, RSS and
query latency at 10k, 100k and 1M chunks.

    .venv/bin/python benchmarks/milvus_scale.py [--sizes 10000,100000,1000000]
                                                [--variants flat,hnsw,milvus] [--limit-s 1500]

Corpus: real Chinese sentences (the contexts of CMRC 2018 trial, CAIL 2019 dev and
DuReader-checklist dev), recombined at random into chunks of about 150 characters.
Vectors: random unit vectors (384-d, like e5-small), for every size: embedding a million
chunks takes days on 2 cores, and search cost does not depend on what the vectors mean.
Questions: 200 CMRC trial questions (text for BM25) with random unit query vectors.

Each (size, variant) runs in a fresh process, so RSS is its own:
    flat    FAISS IndexFlatIP + bm25s over our jieba tokens (the default backend)
    hnsw    FAISS HNSW (M=32) + bm25s
    milvus  milvus-lite in a file (in-process server), dense AUTOINDEX + server-side jieba BM25
Build time includes tokenizing (flat, hnsw: our jieba; milvus: its own analyzer on insert).
A search is what one question costs the index: dense top-30 plus BM25 top-30.
Results: benchmarks/reports/milvus_scale.md and milvus_scale.png.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import EVAL, REPORTS, machine, memory_mb, write_report  # noqa: E402

DIM = 384
SOURCES = ("cmrc2018_trial.json", "cail2019_rc_dev.json", "dureader_checklist_dev.json")


def sentence_pool() -> list[str]:
    pool: list[str] = []
    for name in SOURCES:
        data = json.loads((EVAL / name).read_text("utf-8"))["data"]
        for article in data:
            for para in article["paragraphs"]:
                pool += [s for s in re.findall(r"[^。！？]+[。！？]", para["context"]) if 8 <= len(s) <= 120]
    return sorted(set(pool))


def corpus(size: int, seed: int = 0) -> list[str]:
    """`size` chunks of about 150 characters, each a random run of real sentences."""
    rng = random.Random(seed)
    pool = sentence_pool()
    texts = []
    for _ in range(size):
        text = ""
        while len(text) < 150:
            text += rng.choice(pool)
        texts.append(text)
    return texts


def unit_vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def one(size: int, variant: str, workdir: Path) -> dict:
    """Build, measure and query one index; runs in its own process."""
    texts = corpus(size)
    vectors = unit_vectors(size, seed=1)
    questions = [q["question"] for a in json.loads((EVAL / "cmrc2018_trial.json").read_text("utf-8"))["data"]
                 for p in a["paragraphs"] for q in p["qas"]][:200]
    queries = unit_vectors(len(questions), seed=2)
    base_rss = memory_mb()
    folder = workdir / f"{variant}-{size}"
    started = time.perf_counter()
    if variant in ("flat", "hnsw"):
        from rag.index.lexical import tokenize
        from rag.index.search import FaissSearch

        tokens = [tokenize(t) for t in texts]
        search = FaissSearch.build(vectors, tokens, dense=variant)
        folder.mkdir(parents=True)
        search.save(folder)
        del tokens
    else:
        from rag.index.milvus import MilvusBackend
        from rag.index.milvus_search import MilvusSearch
        from rag.types import Chunk

        backend = MilvusBackend(str(folder / "milvus.db"), "scale", timeout_s=600)
        chunks = [Chunk(f"c{i}", f"d{i // 10}", "", 0, len(t), t, (0, 1), 0) for i, t in enumerate(texts)]
        data = SimpleNamespace(manifest={"embedding": {"model": "random", "dim": DIM}, "chunker": {}},
                               chunks=chunks, chunk_vectors=vectors)
        backend._ensure(data)  # type: ignore[arg-type]
        backend._upsert(data, list(range(size)))  # type: ignore[arg-type]
        backend.flush()  # as a build's finish() does: sealed segments get their indexes
        assert backend.count() == size
        search = MilvusSearch(backend, {c.id: i for i, c in enumerate(chunks)})
    build_s = time.perf_counter() - started
    search.search(queries[0], questions[0], 30, 30)  # warm
    times = []
    for q, v in zip(questions, queries, strict=True):
        t = time.perf_counter()
        hits = search.search(v, q, 30, 30)
        times.append((time.perf_counter() - t) * 1000)
    assert hits.dense and hits.lexical
    rss = memory_mb()
    return {"size": size, "variant": variant, "build_s": round(build_s, 1),
            "disk_mb": round(disk_mb(folder), 1), "rss_mb": round(rss, 1),
            "rss_index_mb": round(rss - base_rss, 1),
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2)}


def watched(command: list[str], limit_s: float, max_rss_gb: float) -> dict:
    """Run one measurement; stop it past `limit_s` seconds or `max_rss_gb` of RSS (a 24 GB
    machine must not swap or kill the shell), and say which limit it hit."""
    out = tempfile.TemporaryFile("w+")
    err = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
    started, peak, stopped = time.monotonic(), 0.0, ""
    while proc.poll() is None:
        try:
            peak = max(peak, memory_mb(proc.pid) / 1024)
        except (OSError, ValueError):
            pass
        elapsed = time.monotonic() - started
        if elapsed > limit_s or peak > max_rss_gb:
            stopped = (f"stopped after {elapsed:.0f} s" if elapsed > limit_s
                       else f"stopped at {peak:.1f} GB RSS after {elapsed:.0f} s")
            proc.kill()
            proc.wait()
            break
        time.sleep(1)
    out.seek(0)
    err.seek(0)
    lines = [x for x in out.read().splitlines() if x.startswith("{")]
    if lines and not stopped:
        return json.loads(lines[-1])
    return {"error": stopped or err.read().strip()[-300:]}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for variant in ("flat", "hnsw", "milvus"):
        rows = sorted((r for r in results if r["variant"] == variant and "p50_ms" in r),
                      key=lambda r: r["size"])
        if not rows:
            continue
        sizes = [r["size"] for r in rows]
        for ax, key in zip(axes, ("p50_ms", "build_s", "rss_mb"), strict=True):
            ax.plot(sizes, [r[key] for r in rows], marker="o", label=variant)
    for ax, title in zip(axes, ("query p50 (ms)", "build (s)", "process RSS (MB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--variants", default="flat,hnsw,milvus")
    parser.add_argument("--limit-s", type=int, default=1500, help="give up on one run after this long")
    parser.add_argument("--max-rss-gb", type=float, default=16.0, help="stop one run above this RSS")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1], Path(args.workdir))))
        return
    results = []
    for size in map(int, args.sizes.split(",")):
        for variant in args.variants.split(","):
            workdir = Path(tempfile.mkdtemp(prefix="milvus-scale-"))
            try:
                result = watched([sys.executable, __file__, "--one", str(size), variant, "--workdir",
                                  str(workdir)], args.limit_s, args.max_rss_gb)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            result = {"size": size, "variant": variant, **result}
            print(json.dumps(result), flush=True)
            results.append(result)
    (REPORTS / "milvus_scale.json").write_text(json.dumps(results, indent=1), "utf-8")
    plot(results, REPORTS / "milvus_scale.png")
    rows = [f"| {r['size']:,} | {r['variant']} | {r['build_s']} | {r['disk_mb']} | {r['rss_mb']} | "
            f"{r['rss_index_mb']} | {r['p50_ms']} | {r['p95_ms']} |" if "p50_ms" in r
            else f"| {r['size']:,} | {r['variant']} | {r['error']} | | | | | |" for r in results]
    write_report("milvus_scale.md", f"""# Scale: FAISS flat, FAISS HNSW and milvus-lite at 10k to 1M chunks

Machine: {machine()}
Command: `.venv/bin/python benchmarks/milvus_scale.py --sizes {args.sizes} --variants {args.variants}`

{__doc__.split(chr(10) + chr(10), 2)[2]}
| chunks | variant | build s | disk MB | process RSS MB | RSS of the index MB | search p50 ms | p95 ms |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

![scale](milvus_scale.png)
""")


if __name__ == "__main__":
    main()
