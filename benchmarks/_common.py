"""Helpers shared by the benchmark scripts: machine facts, timing, report writing."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "benchmarks" / "reports"
EVAL = ROOT.parent / "shared" / "eval"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{os.cpu_count()} cores, {cpu}; torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads; Python {platform.python_version()}; "
            f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}")


def checkout_label(root: Path) -> str:
    """'this tree' for ROOT, else the other checkout's commit (its folder where git cannot say)."""
    if root.resolve() == ROOT:
        return "this tree"
    out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return f"commit {out.stdout.strip()}" if out.returncode == 0 else str(root)


def checkouts(parser: Any, against: list[Path], needs: str) -> list[tuple[str, Path]]:
    """(label, root) of this tree, then of each --against checkout; `parser.error` names one
    that lacks the file `needs` (a path under the checkout, e.g. "rag/cli.py")."""
    runs = [(checkout_label(r), r) for r in [ROOT, *(path.resolve() for path in against)]]
    for _, root in runs[1:]:
        if not (root / needs).is_file():
            parser.error(f"--against {root}: not a rag-zh checkout (no {needs})")
    return runs


def memory_mb(pid: int | str = "self", key: str = "VmRSS") -> float:
    """A process's memory figure from /proc (VmRSS now, VmHWM its peak), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no {key}")


def resident_mb(name: str, pid: int | str = "self") -> float:
    """How much of the files whose path ends with `name` a process holds in memory, in MB."""
    total, current = 0, ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):  # a mapping's own line, then its fields
            current = parts[5] if len(parts) > 5 else ""
        elif parts and parts[0] == "Rss:" and current.endswith(name):
            total += int(parts[1])
    return total / 1024


def article_questions() -> list[str]:
    """The questions of tests/data/article_qa.jsonl, in order."""
    import json

    lines = (ROOT / "tests" / "data" / "article_qa.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line]


def article_config(root: Path, backend: str = "faiss") -> Path:
    """A config file in `root` for a server of its own: the bundled article copied as the corpus,
    and the index, uploads, feedback and milvus-lite file all under `root`."""
    import shutil

    (root / "corpus").mkdir()
    shutil.copy(ROOT / "data" / "corpus" / "全省脱贫攻坚推进会在菏泽召开.txt", root / "corpus")
    path = root / "rag.yaml"
    path.write_text(f"index:\n  root: {root / 'index'}\n  corpus: {root / 'corpus'}\n"
                    f"  uploads: {root / 'uploads'}\n  backend: {backend}\n"
                    f"  milvus:\n    uri: {root / 'milvus.db'}\n"
                    f"embedding:\n  cache_dir: {ROOT / 'models'}\n"
                    f"ui:\n  feedback_path: {root / 'feedback.jsonl'}\n", "utf-8")
    return path


def build_texts(chunking, contexts: int = 80) -> list[str]:
    """What an index build embeds for the first `contexts` CMRC contexts: chunks and sentences."""
    from rag.chunking import Chunker
    from rag.evaluation.datasets import load_dataset

    chunker = Chunker(chunking)
    texts: list[str] = []
    for d in load_dataset(EVAL / "cmrc2018_trial.json").documents[:contexts]:
        sentences = chunker.sentences(d)
        texts += [c.text for c in chunker.chunk(d, sentences)] + [s.text for s in sentences]
    return texts


def peak_gflops(dtype: str = "float32", n: int = 2048, repeat: int = 5) -> float:
    """Median GFLOP/s of an n×n torch matmul in `dtype`: the machine's practical ceiling."""
    import torch

    kind = getattr(torch, dtype)
    a, b = torch.randn(n, n).to(kind), torch.randn(n, n).to(kind)
    torch.mm(a, b)
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        torch.mm(a, b)
        runs.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(runs) / 1e9


def flops_per_token(h: int = 384, layers: int = 12, ff: int = 1536, seq: float = 128.0) -> float:
    """Matmul FLOPs of one BERT-style token: projections, FFN, and attention at length `seq`."""
    return layers * (2 * (4 * h * h + 2 * h * ff) + 4 * seq * h)


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, list[float]]:
    """Median wall seconds over `repeat` runs, and all runs."""
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), runs


ANSWER_HEADER = ("EM | F1 | hit | avg chars | citation precision | answerable refused | "
                 "unanswerable refused | p50 ms | p95 ms |")
ANSWER_RULE = "---:|" * 9


def answer_cells(part: dict) -> str:
    """One answerer's scores from an evaluate() result (or its "compared" entry) as table
    cells, in ANSWER_HEADER's order."""
    a, c, f, lat = part["answer"], part["citation"], part["refusal"], part["latency_ms"]
    unans = f"{f['unanswerable_refused']:.3f} of {f['unanswerable']}" if f["unanswerable"] else "–"
    return (f"{a['em']:.3f} | {a['f1']:.3f} | {a['hit']:.3f} | {a['avg_chars']:.0f} | "
            f"{c['precision']:.3f} | {f['answerable_refused']:.3f} | {unans} | "
            f"{lat['p50']:.0f} | {lat['p95']:.0f} |")


def write_report(name: str, text: str) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / name
    path.write_text(text, encoding="utf-8")
    print(text)
    print(f"\nwritten to {path}")
    return path


@contextmanager
def serving(*options: str, root: Path = ROOT) -> Iterator[tuple[subprocess.Popen, str]]:
    """`rag [OPTIONS] serve` on a free port, waited for until it answers; stopped on exit.
    `root` is the checkout whose `rag` package runs (another one gives a baseline)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", *options, "serve", "--port", str(port)],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
