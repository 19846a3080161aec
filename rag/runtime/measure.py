"""Pick the fastest compute path by timing it, never by a CPU-flag rule.

Each candidate runs the same small fixed workload. Its first run warms it up and
gives its output, which must stay within `min_cosine` of the float32 reference
(row by row); the timed runs that follow give its median. A candidate that
raises or drifts is dropped with one warning line, so a runtime that fails to load
just falls back to the others.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)
MIN_COSINE = 0.999


@dataclass(frozen=True)
class Candidate:
    name: str  # e.g. "torch-bfloat16/16": path, then batch size where it matters
    run: Callable[[], np.ndarray]  # the workload; returns one row per input


@dataclass(frozen=True)
class Measured:
    best: str
    median_ms: dict[str, float] = field(default_factory=dict)  # every candidate that stayed in
    cosine: dict[str, float] = field(default_factory=dict)  # lowest row cosine to the reference
    dropped: dict[str, str] = field(default_factory=dict)  # name -> why


def fastest(candidates: Sequence[Candidate], reference: np.ndarray | None = None, repeat: int = 3,
            min_cosine: float = MIN_COSINE, prefer: str | None = None, slack: float = 0.0) -> Measured:
    """Time every candidate on its workload; the fastest faithful one wins.

    `reference` None: the first candidate is the float32 baseline, and its warm-up output is
    the reference (so the baseline is not run once more just to make one).
    `prefer` names a candidate that wins while within `slack` (e.g. 0.05 = 5%) of the fastest:
    for a near tie, which timing noise decides, broken towards a lighter path."""
    if not candidates:
        raise ValueError("no candidates to measure")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    times: dict[str, float] = {}
    cosines: dict[str, float] = {}
    dropped: dict[str, str] = {}
    for c in candidates:
        try:
            out = c.run()  # warm-up, and the output to check
            if reference is None:
                reference = out
            cos = min_row_cosine(out, reference)
            if cos < min_cosine:
                dropped[c.name] = f"cosine {cos:.5f} to float32 is below {min_cosine}"
                continue
            runs = []
            for _ in range(repeat):
                t = time.perf_counter()
                c.run()
                runs.append((time.perf_counter() - t) * 1e3)
        except Exception as exc:  # a runtime that cannot load or run is skipped, not fatal
            if reference is None:
                raise RuntimeError(f"the baseline candidate {c.name} failed, so nothing can be "
                                   f"checked against it: {exc}") from exc
            log.warning("runtime candidate %s failed, skipped: %s", c.name, exc)
            dropped[c.name] = f"failed: {exc}"
            continue
        times[c.name], cosines[c.name] = statistics.median(runs), cos
    if not times:
        raise RuntimeError(f"every runtime candidate failed: {dropped}")
    best = min(times, key=times.__getitem__)
    if prefer in times and times[prefer] <= times[best] * (1 + slack):
        best = prefer
    return Measured(best, {k: round(v, 3) for k, v in times.items()},
                    {k: round(v, 6) for k, v in cosines.items()}, dropped)


def min_row_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest cosine between matching rows of a and b (1.0 for identical directions)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"output shape {a.shape} differs from the reference {b.shape}")
    if a.size == 0:
        return 1.0
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    dots = (a * b).sum(axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.min(dots / np.maximum(norms, 1e-30)))
