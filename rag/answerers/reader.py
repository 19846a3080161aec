"""Reader answers: a short span read from the passages, then the sentences that prove it.

1. The hand-scored sentences of the retrieved passages (ExtractiveAnswerer.score)
   nominate the `reader_windows` best sentences; each grows into a window.
2. The reader reads all windows in one batch and gives each its best span and
   the margin of that span over "no answer".
3. The window whose  margin + hand_weight * hand score  is highest wins (the
   weight is chosen on validation data and ships with the reader).
4. The calibration (also fitted on validation data) weighs the winner's margin,
   its "no answer" logits and the retrieval evidence (the best hand score):
   below zero, we refuse.
   That decision value is the Answer's score.
5. The answer is the span ("菏泽"), then every sentence the span touches, each
   with [n]; those citations carry the span's exact document offsets.
An elliptical follow-up ("他还强调了什么？") gets sentence answers instead: the reader
was trained on standalone questions (measured: it refused this one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rag.answerers.extractive import ExtractiveAnswerer, Scored
from rag.config import AnswerConfig
from rag.errors import ConfigError
from rag.evaluation.metrics import normalize
from rag.index.store import IndexData
from rag.question import Query
from rag.reader.spans import Span
from rag.reader.windows import Window, merge_windows, window_around
from rag.types import Answer, Citation, Passage, Sentence

if TYPE_CHECKING:
    from rag.reader.reader import Reader

_PUNCT = "\\s，,。.：:；;、！!？?“”\"'（）()《》【】"
_EDGE = re.compile(f"^[{_PUNCT}]+|[{_PUNCT}]+$")
_REACH = 24  # sentences either side of a centre that a window may reach


@dataclass(frozen=True)
class Reading:
    window: Window
    span: Span
    hand: float  # hand score of the window's centre sentence
    rank: float  # margin + hand_weight * hand: what picks the winner

    @property
    def start(self) -> int:
        return self.window.start + self.span.start

    @property
    def end(self) -> int:
        return self.window.start + self.span.end


class ReaderAnswerer:
    def __init__(self, config: AnswerConfig, reader: Reader) -> None:
        if config.reader_windows < 1:
            raise ConfigError(f"answer.reader_windows must be >= 1, got {config.reader_windows}")
        self.config = config
        self.reader = reader
        self.hand = ExtractiveAnswerer(config)

    def read(self, query: Query, query_vector: np.ndarray, passages: list[Passage],
             index: IndexData, exclude: set[str] = frozenset()) -> tuple[list[Reading], float]:
        """Every window's reading, best first, and the retrieval evidence (best hand score)."""
        scored = self.hand.score(query, query_vector, passages, index, exclude)
        if not scored:
            return [], 0.0
        nominated = [(self._window(index, s, exclude), s.score) for s in scored[: self.config.reader_windows]]
        windows = merge_windows([w for w, _ in nominated])
        # A window that grew over (or into) another nominee's keeps the better hand score.
        hand = {(w.doc_id, w.start, w.end): max(score for v, score in nominated if _within(v, w))
                for w in windows}
        question = query.search_text if query.is_followup else query.text
        spans = self.reader.read(question, [w.text for w in windows])
        weight = self.reader.calibration.hand_weight
        readings = []
        for w, span in zip(windows, spans, strict=True):
            h = hand[(w.doc_id, w.start, w.end)]
            readings.append(Reading(w, _trim(span, w.text), h, span.margin + weight * h))
        readings = [r for r in readings if not self._excluded(r, index, exclude)]
        readings.sort(key=lambda r: -r.rank)
        return readings, scored[0].score

    def _window(self, index: IndexData, s: Scored, exclude: set[str] = frozenset()) -> Window:
        """The window around a nominated sentence; only the sentence itself when its
        neighbours include one an earlier answer gave ("还…" asks for something new)."""
        rows = index.doc_rows[s.sentence.doc_id][1]
        lo, hi = max(rows[0], s.row - _REACH), min(rows[-1] + 1, s.row + _REACH + 1)
        text, near = index.documents[s.sentence.doc_id].text, index.sentences[lo:hi]
        w = window_around(near, s.row - lo, text, self.reader.window_chars)
        if exclude and any(near[i].text in exclude for i in range(w.first, w.last)):
            w = window_around(near, s.row - lo, text, 1)
        return w

    @staticmethod
    def _excluded(r: Reading, index: IndexData, exclude: set[str]) -> bool:
        """A span inside a sentence an earlier answer already gave ("还…" follow-ups)."""
        if not exclude:
            return False
        return any(s.text in exclude for s in _touched(index, r))

    def answer(self, query: Query, query_vector: np.ndarray, passages: list[Passage],
               index: IndexData, exclude: set[str] = frozenset()) -> Answer:
        if query.is_followup:
            # The reader was trained on standalone questions; an elliptical follow-up
            # ("他还强调了什么？") is answered with sentences, which read it in context.
            return self.hand.answer(query, query_vector, passages, index, exclude)
        readings, evidence = self.read(query, query_vector, passages, index, exclude)
        if not readings:
            return self.hand.refusal(query.text, passages, evidence)
        best = readings[0]
        decision = self.reader.calibration.value(best.span.margin, best.span.null, evidence)
        if decision < 0:
            return self.hand.refusal(query.text, passages, decision)
        doc = index.documents[best.window.doc_id]
        short = doc.text[best.start:best.end]
        citations, parts = [], []
        for n, sent in enumerate(_touched(index, best), start=1):
            a, b = max(sent.start, best.start), min(sent.end, best.end)
            citations.append(Citation(n, sent.doc_id, doc.source, sent.start, sent.end, sent.text,
                                      sent.paragraph, sent.number, _chunk_of(passages, sent), a, b,
                                      doc.location_at(sent.start)))
            parts.append(f"{sent.text}[{n}]")
        proof = "".join(parts)
        same = normalize(short) == normalize("".join(c.text for c in citations))
        text = proof if same else f"{short}\n\n{proof}"
        return Answer(query.text, text, False, citations, passages, decision, short=short)


def _within(inner: Window, outer: Window) -> bool:
    return inner.doc_id == outer.doc_id and outer.start <= inner.start and inner.end <= outer.end


def _touched(index: IndexData, r: Reading) -> list[Sentence]:
    """The sentences of the window that the span overlaps, in order."""
    rows = index.doc_rows[r.window.doc_id][1]
    out = []
    for row in rows:
        sent = index.sentences[row]
        if sent.start < r.end and r.start < sent.end:
            out.append(sent)
        elif sent.start >= r.end:
            break
    return out


def _chunk_of(passages: list[Passage], sent: Sentence) -> str:
    for p in passages:
        if p.chunk.doc_id == sent.doc_id and p.chunk.start <= sent.start and sent.end <= p.chunk.end:
            return p.chunk.id
    return ""


def _trim(span: Span, text: str) -> Span:
    """Drop punctuation and spaces at the span's edges ("菏泽。" -> "菏泽")."""
    piece = text[span.start:span.end]
    m = _EDGE.match(piece)
    lead = m.end() if m else 0
    tail = _EDGE.search(piece[lead:])
    end = span.start + lead + (tail.start() if tail else len(piece) - lead)
    if end <= span.start + lead:
        return span
    return Span(span.score, span.null, span.start + lead, end)
