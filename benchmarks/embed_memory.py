"""Memory of embedding a corpus: how much of the word-embedding matrix becomes resident.

    python benchmarks/embed_memory.py --against OTHER_CHECKOUT [--against ...]

Each checkout (this tree first, then every --against, e.g. a git worktree of an older
commit) embeds the same growing corpus in a fresh process: the CMRC 2018 trial contexts,
then the DRCD dev contexts as well (Traditional, so other pieces). After each step it reads
VmRSS and how much of model.safetensors is resident (from /proc/self/smaps). Needs
../shared/eval; writes benchmarks/reports/embed_memory.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import EVAL, ROOT, checkouts, machine, write_report  # noqa: E402

SETS = [("CMRC trial contexts", "cmrc2018_trial.json"), ("+ DRCD dev contexts", "DRCD_dev.json")]

# Run in the checkout under test (cwd, so its own `rag` is imported; this tree's _common for
# the /proc readings): one JSON line per step.
PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
from _common import memory_mb, resident_mb
from rag.config import Config
from rag.embed import Embedder

config = Config.load(sys.argv[1], env=False)
embedder = Embedder(config.embedding)
embedder.embed(["会议由谁主持？"], "query")
print(json.dumps({"step": "one query", "texts": 1, "s": 0.0, "rss": memory_mb(),
                  "resident": resident_mb("model.safetensors"), "head": []}), flush=True)
for label, path in json.loads(sys.argv[2]):
    data = json.load(open(path, encoding="utf-8"))
    texts = [p["context"][:500] for a in data["data"] for p in a["paragraphs"]]
    t = time.perf_counter()
    vectors = embedder.embed(texts, "passage")
    print(json.dumps({"step": label, "texts": len(texts), "s": time.perf_counter() - t,
                      "rss": memory_mb(), "resident": resident_mb("model.safetensors"),
                      "head": [round(float(x), 5) for x in vectors[0, :4]]}), flush=True)
"""


def measure(root: Path, sets: list[tuple[str, str]]) -> list[dict]:
    argv = [str(ROOT / "configs" / "default.yaml"), json.dumps(sets), str(ROOT / "benchmarks")]
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=root, capture_output=True,
                         text=True, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", type=Path, action="append", default=[],
                        help="another checkout measured in the same run as a baseline; repeatable")
    args = parser.parse_args()
    sets = [(label, str(EVAL / name)) for label, name in SETS if (EVAL / name).is_file()]
    if not sets:
        sys.exit(f"no evaluation files under {EVAL}; nothing to embed")
    runs = checkouts(parser, args.against, needs="rag/embed.py")
    results = [(label, measure(root, sets)) for label, root in runs]
    lines = ["# Embedding memory: the word-embedding matrix", "", f"Machine: {machine()}", "",
             "Each checkout in a fresh process, one after another, embedding the same texts "
             "(contexts cut to 500 characters). Resident: the part of model.safetensors in memory.",
             "", "| code | step | texts | seconds | VmRSS MiB | model file resident MiB |",
             "|---|---|---:|---:|---:|---:|"]
    for label, steps in results:
        lines += [f"| {label} | {s['step']} | {s['texts']} | {s['s']:.1f} | {s['rss']:.0f} | "
                  f"{s['resident']:.0f} |" for s in steps]
    same = all(a["head"] == b["head"] for _, steps in results for a, b in zip(results[0][1], steps))
    lines += ["", f"First vector's first values equal across checkouts: {'yes' if same else 'NO'}."]
    write_report("embed_memory.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
