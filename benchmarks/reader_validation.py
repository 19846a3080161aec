"""Readers compared through the full pipeline on validation questions: how a reader is chosen.

    .venv/bin/python benchmarks/reader_validation.py reader-v4 reader-v5 [--limit N]

1. Take the validation split of the training files (the hash split `rag reader train`
   holds out: never trained on, and not a test set) and write it as SQuAD JSON to
   artifacts/validation.json, so `rag eval artifacts/validation.json --no-t2s` asks the same.
2. Answer every question with each reader named, retrieval over all validation contexts,
   and with the sentence answers (reader off) once beside them.
Results: benchmarks/reports/reader_validation.md. The test sets are never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, write_report  # noqa: E402

from rag.cli_reader import DEFAULT_FILES, SHARED_TRAIN  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.evaluation.datasets import load_dataset  # noqa: E402
from rag.evaluation.runner import evaluate  # noqa: E402
from rag.reader.calibrate import validation_corpus  # noqa: E402
from rag.reader.train import TrainSettings  # noqa: E402

OUT = ROOT / "artifacts" / "validation.json"


def write_validation(path: Path = OUT) -> Path:
    """The validation questions as SQuAD JSON: one paragraph per context, one answer each."""
    files = [str(SHARED_TRAIN / f) for f in DEFAULT_FILES]
    val = validation_corpus(files, TrainSettings(files=tuple(files)).validation_share)
    by_context: dict[str, list[dict]] = {cid: [] for cid in val.contexts}
    for q in val.questions:
        by_context[q.context_id].append({"id": q.id, "question": q.question,
                                         "answers": [{"text": q.answer, "answer_start": q.start}]})
    paragraphs = [{"context": val.contexts[cid], "qas": qas} for cid, qas in by_context.items() if qas]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": [{"title": "validation", "paragraphs": paragraphs}]},
                               ensure_ascii=False), "utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("readers", nargs="+", help="reader names under rag/weights/, or folders")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    dataset = load_dataset(write_validation(), t2s=False)  # DRCD was converted when read
    config = Config.load()
    embedder = Embedder(config.embedding)
    rows = []
    for i, name in enumerate(args.readers):
        started = time.perf_counter()
        r = evaluate(dataset, config.replace(answer={"reader": name}), embedder=embedder,
                     limit=args.limit, compare=i == 0)
        print(name, json.dumps({k: r[k] for k in ("answer", "refusal", "latency_ms")}))
        rows.append((name, r))
        if i == 0:
            rows.append(("sentences (reader off)", {**r, **r["compared"]["hand"]}))
        print(f"{name}: {time.perf_counter() - started:.0f} s")
    n = rows[0][1]["n"]
    lines = ["# Readers on the validation questions (full pipeline)", "", f"Machine: {machine()}", "",
             f"{n} questions held out of the training files by `rag reader train`'s hash split, "
             "retrieval over their contexts. This is what a shipped reader is chosen on; the test "
             "sets are in reader.md.", "",
             "| answerer | EM | F1 | hit | avg chars | citation precision | answerable refused | p50 ms |",
             "|---|" + "---:|" * 7]
    for name, r in rows:
        a, c, f, lat = r["answer"], r["citation"], r["refusal"], r["latency_ms"]
        lines.append(f"| {name} | {a['em']:.3f} | {a['f1']:.3f} | {a['hit']:.3f} | {a['avg_chars']:.0f} | "
                     f"{c['precision']:.3f} | {f['answerable_refused']:.3f} | {lat['p50']:.0f} |")
    write_report("reader_validation.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
