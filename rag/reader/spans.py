"""What the reader says about one window: its best span and how it compares to "no answer"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    score: float  # start + end logit of the best span
    null: float  # start + end logit of "no answer"
    start: int  # character offsets into the window text
    end: int

    @property
    def margin(self) -> float:
        """How much the span beats "no answer"; positive means the reader answers."""
        return self.score - self.null
