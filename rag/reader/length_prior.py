"""Step 0 of calibration: how a span is chosen from the logits, fitted on validation windows.

Two knobs, both decoding only (the weights never change):
- a prior on answer length: the reader's start and end logits score every span;
  adding beta * ln(characters) before choosing moves its choice towards shorter
  (beta < 0) or longer spans;
- a cap on answer length in tokens (training's `max_answer_tokens` is only where it
  started: gold answers longer than 48 pieces exist, 2.7% of the validation ones).
Every (beta, cap) pair decodes the same logits of the answerable validation windows;
the one with the highest span F1 (then EM) wins; among equals no prior, then the
smaller cap.

    beta, cap, table = fit_length_prior(reader, validation_examples)
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.evaluation.metrics import exact_match, f1
from rag.reader.data import Example
from rag.reader.reader import SpanReader

GRID = (0.0, -0.15, -0.25, -0.35, -0.5, -0.75, -1.0, 0.25, 0.5)
CAPS = (32, 48, 64, 96, 160)  # 160: no cap in windows of at most 160 characters


def fit_length_prior(reader: SpanReader, examples: Sequence[Example], grid: Sequence[float] = GRID,
                     caps: Sequence[int] = CAPS,
                     batch_size: int = 32) -> tuple[float, int, dict[str, dict[str, float]]]:
    """The best (prior, cap) on the answerable `examples`, and every pair's EM and F1.

    The table's keys are "beta" for the first cap and "beta@cap" for the others."""
    positives = [e for e in examples if e.start >= 0]
    if not positives:
        raise ValueError("no answerable validation windows to fit the length prior on")
    if 0.0 not in grid:
        raise ValueError(f"the grid must hold 0.0 (no prior), got {list(grid)}")
    if not caps or min(caps) < 1:
        raise ValueError(f"caps must be token counts >= 1, got {list(caps)}")
    pairs = [(b, c) for c in caps for b in grid]
    em = {p: 0.0 for p in pairs}
    f = {p: 0.0 for p in pairs}
    positives.sort(key=lambda e: len(e.window))  # similar lengths batch with little padding
    for i in range(0, len(positives), batch_size):
        group = positives[i : i + batch_size]
        read = reader.read_pairs([e.question for e in group], [e.window for e in group], pairs)
        for pair, spans in read.items():
            for ex, span in zip(group, spans, strict=True):
                pred, gold = ex.window[span.start:span.end], ex.window[ex.start:ex.end]
                em[pair] += exact_match(pred, [gold])
                f[pair] += f1(pred, [gold])
    n = len(positives)

    def key(p: tuple[float, int]) -> str:
        return str(p[0]) if p[1] == caps[0] else f"{p[0]}@{p[1]}"

    table = {key(p): {"em": round(em[p] / n, 4), "f1": round(f[p] / n, 4)} for p in pairs}
    best = max(pairs, key=lambda p: (round(f[p] / n, 4), round(em[p] / n, 4), p[0] == 0.0, -p[1]))
    return best[0], best[1], table
