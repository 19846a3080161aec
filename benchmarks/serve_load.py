"""Load on one `rag serve`: questions per second and latency with 1, 4 and 16 clients.

    .venv/bin/python benchmarks/serve_load.py [--seconds 60] [--clients 1,4,16] [--backend faiss|milvus]

One server on the bundled article (reader on, the default config). Each client is a
thread that asks the article questions in turn over HTTP, through the page's own API
(`/gradio_api/call/ask`, the endpoint gradio_client uses), for `--seconds` seconds.
Every answer is checked against the answer the same question got when asked alone
first: a failure or an answer that belongs to another question counts as an error.
Clients are plain HTTP (urllib), so they take little of the 2 cores from the server.
Results: benchmarks/reports/serve_load.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import article_config, article_questions, machine, serving, write_report  # noqa: E402


def ask(url: str, question: str, timeout: float = 120.0) -> dict:
    """One question through Gradio's call API: POST for an event id, then read its result stream."""
    body = json.dumps({"data": [question]}).encode()
    post = urllib.request.Request(f"{url}gradio_api/call/ask", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(post, timeout=timeout) as r:
        event = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event}", timeout=timeout) as r:
        kind = None
        for raw in r:
            line = raw.decode().strip()
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in ("complete", "error"):
                if kind == "error":
                    raise RuntimeError(f"server error: {line}")
                return json.loads(line[5:])[0]
    raise RuntimeError("the result stream ended without a result")


def signature(answer: dict) -> tuple:
    return answer["text"], answer.get("short"), tuple(c["text"] for c in answer.get("citations", []))


def run(url: str, clients: int, seconds: float, questions: list[str], expected: dict[str, tuple]) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        i = n * 7  # each client starts at another question
        while time.monotonic() < stop_at:
            q = questions[i % len(questions)]
            i += 1
            t = time.perf_counter()
            try:
                got = signature(ask(url, q))
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(ms)
                    if got != expected[q]:
                        errors.append(f"wrong answer to {q}: {got[0][:40]!r}")
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                with lock:
                    errors.append(f"{q}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {"clients": clients, "answered": len(latencies), "errors": len(errors),
            "error_examples": errors[:3], "qps": round(len(latencies) / wall, 2),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1), "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--backend", default="faiss", choices=["faiss", "milvus"])
    args = parser.parse_args()
    questions = article_questions()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = article_config(Path(tmp), args.backend)
        with serving("--config", str(cfg)) as (_, url):
            expected = {q: signature(ask(url, q)) for q in questions}  # alone, one at a time
            results = []
            for n in map(int, args.clients.split(",")):
                results.append(run(url, n, args.seconds, questions, expected))
                print(json.dumps(results[-1]), flush=True)
    rows = [f"| {r['clients']} | {r['answered']} | {r['qps']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{'yes' if r['p95_ms'] <= 1000 else 'no'} | {r['errors']} |" for r in results]
    ok = [r for r in results if r["p95_ms"] <= 1000 and not r["errors"]]
    best = max(ok, key=lambda r: r["qps"]) if ok else None
    verdict = f"{best['qps']} questions/s with {best['clients']} clients" if best else "none"
    checked = sum(r["answered"] for r in results)
    write_report(f"serve_load{'' if args.backend == 'faiss' else '_' + args.backend}.md",
                 f"""# Load on one `rag serve` ({args.backend} backend, reader on)

Machine: {machine()}
Command: `.venv/bin/python benchmarks/serve_load.py --seconds {args.seconds:g} --clients {args.clients}\
{'' if args.backend == 'faiss' else ' --backend ' + args.backend}`

{__doc__.split(chr(10) + chr(10), 1)[1].split("Results:")[0].strip()}

| clients | answered | questions/s | p50 ms | p95 ms | p95 ≤ 1 s | failed or mixed up |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Best rate with p95 ≤ 1 s and no error: {verdict}.
Every one of the {checked} answers was checked against the answer its question got alone.
""")


if __name__ == "__main__":
    main()
