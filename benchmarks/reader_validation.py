"""Readers compared through the full pipeline on validation questions: how a reader is chosen.

    .venv/bin/python benchmarks/reader_validation.py reader-v4 reader-v5 [--windows 6,8] [--limit N]
        [--dtypes float32,int8] [--report reader_validation.md]

1. Take the validation split of the training files (the hash split `rag reader train`
   holds out: never trained on, and not a test set) and write it as SQuAD JSON to
   artifacts/validation.json, so `rag eval artifacts/validation.json --no-t2s` asks the same.
2. Build one index over all validation contexts, and answer every question there with
   each reader named and with the sentence answers (reader off), one after the other;
   `--windows` adds the first reader reading more (or fewer) windows per question
   (answer.reader_windows; the configured count is the first reader's row); `--dtypes` runs
   the first reader under each compute path (answer.reader_dtype; the first is its row).
Results: benchmarks/reports/reader_validation.md (or --report). The test sets are never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ANSWER_HEADER, ANSWER_RULE, ROOT, answer_cells, machine, write_report  # noqa: E402

from rag.cli_reader import DEFAULT_FILES, SHARED_TRAIN  # noqa: E402
from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.evaluation.datasets import load_dataset  # noqa: E402
from rag.evaluation.runner import HAND, evaluate  # noqa: E402
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
    parser.add_argument("--windows", default="", help="other answer.reader_windows for the first reader, "
                        "comma-separated: 6,8")
    parser.add_argument("--dtypes", default="", help="answer.reader_dtype values for the first reader, "
                        "comma-separated, the first for its own row: float32,int8")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--report", default="reader_validation.md",
                        help="file name under benchmarks/reports/ (a sweep keeps the reader comparison)")
    args = parser.parse_args()
    try:
        windows = [int(w) for w in args.windows.split(",") if w.strip()]
    except ValueError:
        parser.error(f"--windows takes comma-separated integers such as 6,8, got {args.windows!r}")
    if Path(args.report).name != args.report or not args.report.endswith(".md"):
        parser.error(f"--report takes a file name ending in .md such as reader_windows.md, "
                     f"got {args.report!r}")
    if len(set(args.readers)) < len(args.readers) or "hand" in args.readers:
        parser.error(f"name each reader once, and none 'hand': got {args.readers}")
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    dataset = load_dataset(write_validation(), t2s=False)  # DRCD was converted when read
    config = Config.load()
    first, *others = args.readers
    own = {"reader": first, **({"reader_dtype": dtypes[0]} if dtypes else {})}
    compare: dict[str, dict[str, Any]] = {name: {"reader": name} for name in others}
    compare.update({f"{first}, {w} windows": {**own, "reader_windows": w} for w in windows})
    compare.update({f"{first}, {d}": {"reader": first, "reader_dtype": d} for d in dtypes[1:]})
    compare.update(HAND)
    started = time.perf_counter()
    r = evaluate(dataset, config.replace(answer=own), embedder=Embedder(config.embedding),
                 limit=args.limit, compare=compare)
    print(f"{len(compare) + 1} answerers on {r['n']} questions: {time.perf_counter() - started:.0f} s")
    label = ", ".join([first, *([f"{config.answer.reader_windows} windows"] if windows else []), *dtypes[:1]])
    rows = [(label, r)] + [(name, part) for name, part in r["compared"].items() if name != "hand"]
    rows.append(("sentences (reader off)", r["compared"]["hand"]))
    for name, part in rows:
        print(name, json.dumps({k: part[k] for k in ("answer", "refusal", "latency_ms")}))
    lines = ["# Readers on the validation questions (full pipeline)", "", f"Machine: {machine()}", "",
             f"{r['n']} questions held out of the training files by `rag reader train`'s hash split, "
             "one index over their contexts, every question asked of each answerer in turn. This is "
             "what a shipped reader is chosen on; the test sets are in reader.md.", "",
             "| answerer | " + ANSWER_HEADER, "|---|" + ANSWER_RULE]
    lines += [f"| {name} | {answer_cells(part)}" for name, part in rows]
    write_report(args.report, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
