"""Training examples for the reader, from SQuAD-format files.

1. Read each file (plain or gzipped JSON; DRCD is converted to Simplified Chinese).
   An answer that is not at its `answer_start` is counted and skipped.
2. Split contexts, not questions, into train and validation by a hash of the
   context, so no validation context was ever seen in training.
3. For every question make
   - one positive window: grown from the answer's sentence or, at random, from a
     neighbour whose window still holds the whole answer;
   - one in-context negative: the window of the same context, not touching the
     answer, that shares the most character bigrams with the question;
   - with probability `cross_negatives`, one retrieved negative: the best window
     of the context that BM25 (over jieba words, as the product's lexical
     retriever) ranks highest for the question among the other contexts that do
     not contain the answer text.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.chunking import split_sentences
from rag.errors import DatasetError
from rag.evaluation.datasets import t2s_converter
from rag.index.lexical import LexicalIndex, tokenize
from rag.question import bigrams
from rag.reader.windows import Window, window_around
from rag.types import Document, Sentence

SQUAD_SHAPE = "{data: [{paragraphs: [{context, qas: [{id, question, answers: [{text, answer_start}]}]}]}]}"


@dataclass(frozen=True)
class QA:
    id: str
    question: str
    context_id: str
    answer: str
    start: int  # character offset of the answer in its context


@dataclass(frozen=True)
class Example:
    question: str
    window: str
    start: int  # answer's character offsets in `window`; (-1, -1) means "no answer"
    end: int


@dataclass
class Corpus:
    contexts: dict[str, str]  # context id -> text
    questions: list[QA]
    misplaced: int = 0  # answers not at their answer_start, skipped


def load_squad(path: Path, t2s: bool | None = None) -> Corpus:
    """Read one SQuAD-format file; `t2s` converts Traditional Chinese (default: DRCD files)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if t2s is None:
        t2s = "drcd" in path.name.lower()
    convert: Callable[[str], str] = t2s_converter() if t2s else (lambda s: s)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not readable JSON ({exc}); expected SQuAD format {SQUAD_SHAPE}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DatasetError(f"{path}: expected SQuAD format {SQUAD_SHAPE}")
    corpus = Corpus({}, [])
    for a, article in enumerate(data["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise DatasetError(f"{path}: data[{a}] has no 'paragraphs' list; "
                               f"expected SQuAD format {SQUAD_SHAPE}")
        for p, para in enumerate(paragraphs):
            if not isinstance(para, dict) or not isinstance(para.get("context"), str) \
                    or not isinstance(para.get("qas"), list):
                raise DatasetError(f"{path}: data[{a}].paragraphs[{p}] lacks a 'context' string "
                                   f"or a 'qas' list; expected SQuAD format {SQUAD_SHAPE}")
            context = convert(para["context"])
            cid = f"{path.name}#{a}-{p}"
            corpus.contexts[cid] = context
            for qa in para["qas"]:
                _add_question(corpus, qa, cid, context, convert)
    if not corpus.questions:
        raise DatasetError(f"{path}: no answerable questions found; expected SQuAD format {SQUAD_SHAPE}")
    return corpus


def _add_question(corpus: Corpus, qa: object, cid: str, context: str,
                  convert: Callable[[str], str]) -> None:
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        corpus.misplaced += 1
        return
    for ref in qa.get("answers") or []:
        if not isinstance(ref, dict):
            continue
        text, start = convert(str(ref.get("text", ""))).strip(), ref.get("answer_start")
        if text and isinstance(start, int) and context[start : start + len(text)] == text:
            corpus.questions.append(QA(str(qa.get("id", len(corpus.questions))),
                                       convert(qa["question"]), cid, text, start))
            return
    corpus.misplaced += 1  # no reference sits at its answer_start


def is_validation(context: str, share: float) -> bool:
    """A fixed, hash-based split of contexts."""
    h = int(hashlib.sha256(context.encode("utf-8")).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


def split(corpus: Corpus, share: float) -> tuple[Corpus, Corpus]:
    train, val = Corpus({}, [], corpus.misplaced), Corpus({}, [])
    for cid, text in corpus.contexts.items():
        (val if is_validation(text, share) else train).contexts[cid] = text
    for q in corpus.questions:
        (val if q.context_id in val.contexts else train).questions.append(q)
    return train, val


class ExampleMaker:
    """Windows for the questions of one corpus (see the module docstring)."""

    def __init__(self, corpus: Corpus, max_chars: int, cross_negatives: float, seed: int) -> None:
        self.corpus = corpus
        self.max_chars = max_chars
        self.cross_negatives = cross_negatives
        self.rng = random.Random(seed)
        self._windows: dict[str, list[Window]] = {}
        self._sentences: dict[str, list[Sentence]] = {}
        self._bm25: _ContextSearch | None = None
        self._ids = list(corpus.contexts)

    def sentences(self, cid: str) -> list[Sentence]:
        if cid not in self._sentences:
            doc = Document(cid, cid, self.corpus.contexts[cid])
            self._sentences[cid] = split_sentences(doc)
        return self._sentences[cid]

    def windows(self, cid: str) -> list[Window]:
        """One window per sentence, as the answerer would build them."""
        if cid not in self._windows:
            text, sents = self.corpus.contexts[cid], self.sentences(cid)
            self._windows[cid] = [window_around(sents, i, text, self.max_chars) for i in range(len(sents))]
        return self._windows[cid]

    def examples(self, qa: QA) -> list[Example]:
        out = []
        pos = self.positive(qa)
        if pos is not None:
            out.append(pos)
        grams = bigrams(qa.question)
        a, b = qa.start, qa.start + len(qa.answer)
        inside = [w for w in self.windows(qa.context_id) if w.end <= a or w.start >= b]
        if inside:
            out.append(_negative(qa.question, max(inside, key=lambda w: _overlap(grams, w.text))))
        if self.rng.random() < self.cross_negatives:
            other = self.retrieved_context(qa)
            if other is not None:
                best = max(self.windows(other), key=lambda w: _overlap(grams, w.text))
                out.append(_negative(qa.question, best))
        return out

    def positive(self, qa: QA) -> Example | None:
        a, b = qa.start, qa.start + len(qa.answer)
        sents = self.sentences(qa.context_id)
        holding = [i for i, s in enumerate(sents) if s.start <= a < s.end]
        if not holding:
            return None
        centre = holding[0]
        options = [c for c in (centre - 1, centre, centre + 1) if 0 <= c < len(sents)]
        windows = self.windows(qa.context_id)
        fitting = [c for c in options if windows[c].start <= a and b <= windows[c].end]
        if not fitting:
            return None  # the answer crosses the window's edge (a paragraph break or a long span)
        w = windows[self.rng.choice(fitting)]
        return Example(qa.question, w.text, a - w.start, b - w.start)

    def retrieved_context(self, qa: QA) -> str | None:
        if self._bm25 is None:
            self._bm25 = _ContextSearch(self.corpus.contexts)
        for cid in self._bm25.search(qa.question, 5):
            if cid != qa.context_id and qa.answer not in self.corpus.contexts[cid]:
                return cid
        return None


def _negative(question: str, window: Window) -> Example:
    return Example(question, window.text, -1, -1)


def _overlap(grams: set[str], text: str) -> int:
    return len(grams & bigrams(text))


class _ContextSearch:
    """BM25 over jieba words of whole contexts: the product's lexical retriever."""

    def __init__(self, contexts: dict[str, str]) -> None:
        self.ids = list(contexts)
        self.index = LexicalIndex("jieba").build([tokenize(contexts[c], "jieba") for c in self.ids])

    def search(self, question: str, k: int) -> list[str]:
        rows, _ = self.index.search(question, k)
        return [self.ids[i] for i in rows.tolist()]


def validation_examples(val: Corpus, max_chars: int, cross_negatives: float) -> list[Example]:
    """The validation windows: one fixed seed, so every run and calibration scores the same ones."""
    return make_examples([val], max_chars, cross_negatives, 1000)


def make_examples(corpora: Sequence[Corpus], max_chars: int, cross_negatives: float,
                  seed: int) -> list[Example]:
    out: list[Example] = []
    for n, corpus in enumerate(corpora):
        maker = ExampleMaker(corpus, max_chars, cross_negatives, seed + n)
        for qa in corpus.questions:
            out.extend(maker.examples(qa))
    return out
