"""Extractive answers: the document's own sentences, each with a citation.

1. Candidates are the sentences of the retrieved chunks.
2. Each is scored by   w_dense * cos(question, sentence)   (vectors from index time)
                     + w_lexical * IDF-weighted share of the question's content words
                                   found in the sentence (words only in the sentence
                                   before it count half; words of the document's lead
                                   sentence count in all of its sentences).
3. Below `refuse_below` the evidence is too weak: we refuse, with no citations.
4. Otherwise the best sentence and up to max_sentences-1 others within
   keep_ratio of it are returned in document order, each marked [n].
Grounded by construction: every word of the answer is a cited source sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.config import AnswerConfig
from rag.errors import ConfigError
from rag.index.store import IndexData
from rag.question import Query, content_terms
from rag.types import Answer, Citation, Passage, Sentence

SHORT_SENTENCE = 40  # a best sentence shorter than this is read together with the next one


@dataclass(frozen=True)
class Scored:
    row: int  # row in index.sentences
    sentence: Sentence
    chunk_id: str
    score: float
    dense: float
    lexical: float


RULES = frozenset({"lead", "previous"})  # the credit rules that survived ablation on validation data


class ExtractiveAnswerer:
    def __init__(self, config: AnswerConfig, rules: frozenset[str] = RULES) -> None:
        """`rules`: which credit rules apply ("lead": words of the document's lead sentence count;
        "previous": words of the sentence before count half); fewer only to measure them."""
        if not rules <= RULES:
            raise ConfigError(f"unknown rules {sorted(rules - RULES)}; valid: {', '.join(sorted(RULES))}")
        if config.candidate_passages < 1:
            raise ConfigError(f"answer.candidate_passages must be >= 1, got {config.candidate_passages}")
        if not 1 <= config.max_sentences <= 10:
            raise ConfigError(f"answer.max_sentences must be 1..10, got {config.max_sentences}")
        if not 0 < config.keep_ratio <= 1:
            raise ConfigError(f"answer.keep_ratio must be in (0, 1], got {config.keep_ratio}")
        self.config = config
        self.rules = rules

    def score(self, query: Query, query_vector: np.ndarray, passages: list[Passage],
              index: IndexData, exclude: set[str] = frozenset()) -> list[Scored]:
        """Every candidate sentence with its score, best first."""
        c = self.config
        terms = content_terms(query.text)
        if query.is_followup:
            for t, w in content_terms(query.search_text).items():
                terms.setdefault(t, w)
        rows: dict[int, str] = {}
        for p in passages:
            for row in index.chunk_sentence_rows(p.chunk):
                rows.setdefault(row, p.chunk.id)
        if not rows:
            return []
        # A follow-up ("他还强调了什么？") may be answered deep inside the paragraph
        # that the previous answer came from, so its context reaches further back.
        reach = 6 if query.is_followup else 1
        order = [r for r in rows if index.sentences[r].text not in exclude]
        own = {r: index.sentences[r].text.lower() for r in order}
        before = {r: self._window(index, r, reach) if "previous" in self.rules else "" for r in order}
        # The lead sentence names what a document is about (a headline, "五月艾是菊科植物");
        # its later sentences rarely repeat the name ("分布于越南…"), yet are about it.
        lead = {r: self._lead(index, r) if "lead" in self.rules else "" for r in order}
        weights = self._weights(terms, index, list(own.values()))
        total = sum(weights.values())
        dense = index.sentence_vectors[order] @ query_vector.astype(np.float32) if order else []
        scored = []
        for row, d in zip(order, np.asarray(dense).tolist(), strict=True):
            sentence = index.sentences[row]
            found = sum(self._credit(t, own[row], before[row], lead[row]) * w for t, w in weights.items())
            lexical = found / total if total else 0.0
            s = c.sentence_weight_dense * d + c.sentence_weight_lexical * lexical
            scored.append(Scored(row, sentence, rows[row], s, d, lexical))
        scored.sort(key=lambda x: -x.score)
        return scored

    @staticmethod
    def _weights(terms: dict[str, float], index: IndexData, texts: list[str]) -> dict[str, float]:
        """Corpus IDF, sharpened by rarity among the candidates: a word in every
        candidate sentence (usually the topic's name) says little about which one answers."""
        n = len(texts)
        weights = {}
        for t, mult in terms.items():
            df = sum(t in x for x in texts)
            local = np.log((n + 1) / (df + 1)) + 1.0
            weights[t] = index.idf(t) * mult * local
        return weights

    @staticmethod
    def _credit(term: str, own: str, before: str, lead: str) -> float:
        """A word in the sentence counts fully, and so does one in the document's lead
        (its subject); one only in the sentence before counts half (it may say who "it" is)."""
        if term in own or term in lead:
            return 1.0
        return 0.5 if term in before else 0.0

    @staticmethod
    def _lead(index: IndexData, row: int) -> str:
        return index.sentences[index.doc_rows[index.sentences[row].doc_id][1][0]].text.lower()

    @staticmethod
    def _window(index: IndexData, row: int, reach: int) -> str:
        """The sentence plus up to `reach` earlier sentences of its paragraph, lower-cased."""
        sentence = index.sentences[row]
        parts = [sentence.text]
        for prev in range(row - 1, max(-1, row - 1 - reach), -1):
            p = index.sentences[prev]
            if p.doc_id != sentence.doc_id or p.paragraph != sentence.paragraph:
                break
            parts.append(p.text)
        return "".join(reversed(parts)).lower()

    def answer(self, query: Query, query_vector: np.ndarray, passages: list[Passage],
               index: IndexData, exclude: set[str] = frozenset()) -> Answer:
        c = self.config
        scored = self.score(query, query_vector, passages, index, exclude)
        best = scored[0].score if scored else 0.0
        if best < c.refuse_below:
            return self.refusal(query.text, passages, best)
        chosen = [s for s in scored if s.score >= best * c.keep_ratio][: c.max_sentences]
        lead = self._continuation(scored[0], index, chosen)
        if lead is not None:  # a short lead-in sentence ("一是思想认识要精准。") goes on in the next
            chosen = [*chosen[: c.max_sentences - 1], lead]
        chosen.sort(key=lambda s: (s.sentence.doc_id != scored[0].sentence.doc_id, s.row))
        citations, parts = [], []
        for n, s in enumerate(chosen, start=1):
            sent = s.sentence
            doc = index.documents[sent.doc_id]
            citations.append(Citation(n, sent.doc_id, doc.source, sent.start, sent.end, sent.text,
                                      sent.paragraph, sent.number, s.chunk_id,
                                      location=doc.location_at(sent.start)))
            parts.append(f"{sent.text}[{n}]")
        return Answer(query.text, "".join(parts), False, citations, passages, best)

    @staticmethod
    def _continuation(top: Scored, index: IndexData, chosen: list[Scored]) -> Scored | None:
        """The sentence after a short best sentence, in the same paragraph, if not chosen yet."""
        row = top.row + 1
        if len(top.sentence.text) >= SHORT_SENTENCE or row >= len(index.sentences):
            return None
        nxt = index.sentences[row]
        if nxt.doc_id != top.sentence.doc_id or nxt.paragraph != top.sentence.paragraph:
            return None
        if any(s.row == row for s in chosen):
            return None
        return Scored(row, nxt, top.chunk_id, top.score, top.dense, top.lexical)

    def refusal(self, question: str, passages: list[Passage], best: float) -> Answer:
        return Answer(question, self.config.refusal_text, True, [], passages, best)
