"""The reader against the hand-scored sentence answers on every test set, side by side.

    .venv/bin/python benchmarks/reader_eval.py [--sets cmrc,drcd,dureader,cail,article] [--limit N]

Each set is run once through `rag eval`'s evaluate(compare=HAND): one index, every
question answered by the reader (configured) and by the hand score (reader off).
These sets are reported, never tuned on. Results: benchmarks/reports/reader.md
and one JSON per set in benchmarks/reports/reader/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ANSWER_HEADER,
    ANSWER_RULE,
    EVAL,
    REPORTS,
    ROOT,
    answer_cells,
    machine,
    write_report,
)

from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.evaluation.datasets import load_dataset  # noqa: E402
from rag.evaluation.runner import HAND, evaluate  # noqa: E402
from rag.reader.weights import DEFAULT_READER  # noqa: E402

SETS = {  # name: (file, per_context)
    "cmrc": (EVAL / "cmrc2018_trial.json", False),
    "drcd": (EVAL / "DRCD_dev.json", False),
    "dureader": (EVAL / "dureader_checklist_dev.json", False),
    "cail": (EVAL / "cail2019_rc_dev.json", True),
    "article": (ROOT / "tests" / "data" / "article_qa.jsonl", False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    config = Config.load()
    config = config.replace(answer={"reader": config.answer.reader or DEFAULT_READER})
    embedder = Embedder(config.embedding)
    out = REPORTS / "reader"
    out.mkdir(parents=True, exist_ok=True)
    for name in args.sets.split(","):
        path, per_context = SETS[name]
        if not path.is_file():
            print(f"skipping {name}: {path} not found")
            continue
        started = time.perf_counter()
        result = evaluate(load_dataset(path), config, embedder=embedder, limit=args.limit,
                          per_context=per_context, compare=HAND)
        result["wall_s"] = round(time.perf_counter() - started, 1)
        (out / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
        print(name, json.dumps({k: result[k] for k in ("answer", "refusal", "latency_ms")}))
    write_report("reader.md", table(out))


def table(folder: Path) -> str:
    lines = ["# The reader vs the hand-scored sentence answers", "", f"Machine: {machine()}", "",
             "EM and F1 score the short answer (the reader's span; the whole text when there is none); "
             "hit scores the whole answer text. Retrieval over all contexts, except CAIL (per context).",
             "", "| set | answerer | " + ANSWER_HEADER, "|---|---|" + ANSWER_RULE]
    for name in SETS:
        path = folder / f"{name}.json"
        if not path.is_file():
            continue
        r = json.loads(path.read_text("utf-8"))
        label = f"{r['dataset']} ({r['n']} q{', per context' if r['per_context'] else ''})"
        for who, part in (("reader", r), ("hand", r["compared"]["hand"])):
            lines.append(f"| {label} | {who} | {answer_cells(part)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
