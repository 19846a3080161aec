"""Step 0 of calibration: a prior on answer length, fitted on validation windows.

The reader's start and end logits score every span; adding beta * ln(characters)
before choosing moves its choice towards shorter (beta < 0) or longer spans. Each
candidate beta decodes the same logits of the answerable validation windows; the
one with the highest span F1 (then EM) wins, 0.0 among equals.

    beta, table = fit_length_prior(reader, validation_examples)
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.evaluation.metrics import exact_match, f1
from rag.reader.data import Example
from rag.reader.reader import SpanReader

GRID = (0.0, -0.15, -0.25, -0.35, -0.5, -0.75, -1.0, 0.25, 0.5)


def fit_length_prior(reader: SpanReader, examples: Sequence[Example], grid: Sequence[float] = GRID,
                     batch_size: int = 32) -> tuple[float, dict[str, dict[str, float]]]:
    """The best prior on the answerable `examples`, and every prior's EM and F1."""
    positives = [e for e in examples if e.start >= 0]
    if not positives:
        raise ValueError("no answerable validation windows to fit the length prior on")
    if 0.0 not in grid:
        raise ValueError(f"the grid must hold 0.0 (no prior), got {list(grid)}")
    em = {b: 0.0 for b in grid}
    f = {b: 0.0 for b in grid}
    positives.sort(key=lambda e: len(e.window))  # similar lengths batch with little padding
    for i in range(0, len(positives), batch_size):
        group = positives[i : i + batch_size]
        read = reader.read_pairs([e.question for e in group], [e.window for e in group], grid)
        for beta, spans in read.items():
            for ex, span in zip(group, spans, strict=True):
                pred, gold = ex.window[span.start:span.end], ex.window[ex.start:ex.end]
                em[beta] += exact_match(pred, [gold])
                f[beta] += f1(pred, [gold])
    n = len(positives)
    table = {str(b): {"em": round(em[b] / n, 4), "f1": round(f[b] / n, 4)} for b in grid}
    best = max(grid, key=lambda b: (round(f[b] / n, 4), round(em[b] / n, 4), b == 0.0))
    return best, table
