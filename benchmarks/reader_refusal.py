"""Refit a shipped reader's ranking and refusal on validation data, and measure the rule first.

    .venv/bin/python benchmarks/reader_refusal.py [READER] [--null-logits] [--write]

1. Read the validation contexts through the real pipeline, as `rag reader calibrate`
   does (rag.reader.calibrate.collect): answerable questions and the two kinds of
   unanswerable ones.
2. Five folds over those cases: fit on four, count what the fifth refuses, for the
   rule on (margin, evidence) and for the rule on (span logits, null logits, evidence).
3. Fit both rules on all cases, next to the calibration READER ships; with --write,
   store the margin rule (--null-logits: the other) in READER's reader.json (its
   length prior and cap stay). Report: benchmarks/reports/reader_refusal.md.
Only training files' validation contexts are read; the test sets never are.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, write_report  # noqa: E402

from rag.config import Config  # noqa: E402
from rag.embed import Embedder  # noqa: E402
from rag.reader.calibrate import Case, collect, fit, validation_corpus  # noqa: E402
from rag.reader.weights import DEFAULT_READER, Calibration, read_meta, resolve_folder, write_meta  # noqa: E402

FOLDS = 5


RULES = {"margin, evidence (the default)": False, "span logits, null logits, evidence": True}


def refused_by(calibration: Calibration, cases: list[Case]) -> dict[str, list[bool]]:
    """Whether `calibration` refuses each case, by kind (nothing read: refused)."""
    hits: dict[str, list[bool]] = {"answerable": [], "other": [], "own": []}
    for c in cases:
        if not c.margins:
            hits[c.kind].append(True)
            continue
        i = c.winner(calibration.hand_weight)
        hits[c.kind].append(not calibration.accepts(c.margins[i], c.nulls[i], c.evidence))
    return hits


def shares(hits: dict[str, list[bool]]) -> dict[str, float]:
    return {k: round(float(np.mean(v)), 4) for k, v in hits.items()}


def refused(cases: list[Case], max_refused: float, null_logits: bool) -> dict[str, float]:
    """Share of each kind refused in held-out folds, the rule fitted on the other folds."""
    hits: dict[str, list[bool]] = {"answerable": [], "other": [], "own": []}
    for f in range(FOLDS):
        calibration, _ = fit([c for i, c in enumerate(cases) if i % FOLDS != f], max_refused, null_logits)
        for kind, got in refused_by(calibration, [c for i, c in enumerate(cases) if i % FOLDS == f]).items():
            hits[kind].extend(got)
    return shares(hits)


def row(name: str, c: Calibration, r: dict[str, float]) -> str:
    return (f"| {name} | {c.hand_weight:g} | {c.w_margin:.3f} | {c.w_null:.3f} | {c.w_evidence:.2f} "
            f"| {c.bias:.2f} | {r['answerable']:.3f} | {r['other']:.3f} | {r['own']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reader", nargs="?", default=DEFAULT_READER)
    parser.add_argument("--max-refused", type=float, default=0.05)
    parser.add_argument("--null-logits", action="store_true",
                        help="write the null-logit rule, not the margin rule")
    parser.add_argument("--write", action="store_true", help="store the new calibration in reader.json")
    args = parser.parse_args()
    t0 = time.time()
    folder = resolve_folder(args.reader)
    meta = read_meta(folder)
    config = Config.load().replace(answer={"reader": str(folder)})
    val = validation_corpus(list(meta.settings["files"]), float(meta.settings["validation_share"]))
    embedder = Embedder(config.embedding)
    cases = collect(config, val, embedder, progress=False)
    cv = {name: refused(cases, args.max_refused, null) for name, null in RULES.items()}
    fits = {null: fit(cases, args.max_refused, null) for null in RULES.values()}
    calibration, report = fits[args.null_logits]
    decoding = {"length_prior": meta.calibration.length_prior,
                "max_answer_tokens": meta.calibration.max_answer_tokens}
    calibration = dataclasses.replace(calibration, **decoding)
    report["calibration"] = dataclasses.asdict(calibration)
    if args.write:
        write_meta(folder, dataclasses.replace(meta, calibration=calibration))
    compared = {name: fits[null][0] for name, null in RULES.items()}
    compared[f"as {folder.name} ships it"] = meta.calibration
    fitted = [row(name, c, shares(refused_by(c, cases))) for name, c in compared.items()]
    lines = [
        "# The reader's refusal rule on validation data",
        "",
        f"Machine: {machine()}",
        "",
        f"{args.reader}, {len(cases)} cases from the validation contexts of its training files "
        f"(`rag.reader.calibrate.collect`: {report['cases']}), read with "
        f"{config.answer.reader_windows} windows from {config.answer.candidate_passages} passages, "
        f"spans of at most {meta.max_answer_tokens} pieces. "
        f"Refused shares in held-out folds ({FOLDS} folds, each rule fitted on the other four "
        f"with at most {args.max_refused:.0%} of answerable cases refused):",
        "",
        "| rule | answerable refused | unanswerable (other context) refused "
        "| unanswerable (own context, answer removed) refused |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {r['answerable']:.3f} | {r['other']:.3f} | {r['own']:.3f} |"
          for name, r in cv.items()),
        "",
        "Each rule fitted on all cases, next to the shipped calibration, and what each refuses "
        "of those same cases:",
        "",
        "| rule | hand_weight | w_margin | w_null | w_evidence | bias | answerable refused "
        "| other refused | own refused |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *fitted,
        "",
        f"The {'null-logit' if args.null_logits else 'margin'} rule's fit "
        f"({'written to' if args.write else 'not written to'} {folder.name}/reader.json):",
        "",
        f"`{json.dumps(report, ensure_ascii=False)}`",
        "",
        f"Wall time {time.time() - t0:.0f} s.",
    ]
    write_report("reader_refusal.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
