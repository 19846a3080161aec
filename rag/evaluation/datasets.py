"""Load QA sets: SQuAD-format JSON (CMRC 2018, DRCD, CAIL2019) or JSONL.

Every context becomes one Document; every question keeps its reference answers
and, where given, the character span of each inside its context. A question
whose references are all empty is unanswerable; YES/NO answers (answer_start -1)
have no span.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import DatasetError
from rag.types import Chunk, Document

__all__ = ["Dataset", "DatasetError", "Question", "load_dataset"]


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[str]  # non-empty reference texts
    spans: list[tuple[int, int]]  # character spans in the context, where known
    doc_id: str | None  # the context's document, when the set has contexts
    answerable: bool

    def held_by(self, chunk: Chunk) -> bool:
        """Whether `chunk` holds a gold answer span, matched by character offsets."""
        return chunk.doc_id == self.doc_id and any(chunk.start <= s and e <= chunk.end
                                                   for s, e in self.spans)


@dataclass(frozen=True)
class Dataset:
    name: str
    documents: list[Document]
    questions: list[Question]
    no_span: int  # answerable questions without a usable span (YES/NO, missing offsets)


def load_dataset(path: Path, *, t2s: bool | None = None) -> Dataset:
    """`t2s` converts Traditional to Simplified Chinese; default: on for DRCD files."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    if t2s is None:
        t2s = "drcd" in path.name.lower()
    convert = t2s_converter() if t2s else (lambda s: s)
    if path.suffix.lower() == ".jsonl":
        return _load_jsonl(path, convert)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not JSON ({exc}); expected SQuAD-format JSON "
                           "{data: [{paragraphs: [{context, qas}]}]} or JSONL") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DatasetError(f"{path}: expected SQuAD-format JSON with a top-level 'data' list "
                           "of {paragraphs: [{context, qas: [{question, answers}]}]}")
    return _load_squad(path, data["data"], convert)


def t2s_converter() -> Callable[[str], str]:
    """OpenCC's Traditional→Simplified conversion, or DatasetError saying how to install it."""
    try:
        from opencc import OpenCC
    except ImportError as exc:  # pragma: no cover - listed in the eval extra
        raise DatasetError("Traditional→Simplified conversion needs opencc: "
                           "pip install opencc-python-reimplemented") from exc
    return OpenCC("t2s").convert


def _load_squad(path: Path, articles: list, convert) -> Dataset:
    documents: dict[str, Document] = {}
    questions: list[Question] = []
    no_span = 0
    for a_i, article in enumerate(articles):
        where = f"data[{a_i}]"
        paragraphs = _field(path, article, where, "paragraphs", list)
        for p_i, para in enumerate(paragraphs):
            where = f"data[{a_i}].paragraphs[{p_i}]"
            raw = _field(path, para, where, "context", str)
            context = convert(raw)
            doc = Document.from_text(context, f"{path.name}#{para.get('id', f'{a_i}-{p_i}')}")
            documents.setdefault(doc.id, doc)
            for q_i, qa in enumerate(_field(path, para, where, "qas", list)):
                at = f"{where}.qas[{q_i}]"
                question = _field(path, qa, at, "question", str)
                refs = qa.get("answers", [])
                if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
                    raise DatasetError(f"{path}: {at}.answers must be a list of {{text, answer_start}} "
                                       f"objects, got {refs!r:.60}")
                texts, spans = [], []
                for r_i, r in enumerate(refs):
                    text, start = r.get("text", ""), r.get("answer_start", -1)
                    if not isinstance(text, str) or isinstance(start, bool) or not isinstance(start, int):
                        raise DatasetError(f"{path}: {at}.answers[{r_i}] needs text (a string) and "
                                           f"answer_start (an integer), got {r!r:.80}")
                    if text.strip():
                        texts.append(convert(text))
                        if start >= 0:
                            spans.append(_locate(context, convert(text), start))
                spans = [sp for sp in spans if sp is not None]
                answerable = bool(texts)
                if answerable and not spans:
                    no_span += 1
                questions.append(Question(str(qa.get("id", len(questions))), convert(question),
                                          texts, spans, doc.id, answerable))
    if not questions:
        raise DatasetError(f"{path}: no questions found")
    return Dataset(path.stem, list(documents.values()), questions, no_span)


def _field(path: Path, record: object, where: str, key: str, kind: type) -> Any:
    """record[key], checked to be a `kind`, or DatasetError naming the record and the field."""
    if not isinstance(record, dict):
        raise DatasetError(f"{path}: {where} must be an object, got {type(record).__name__}")
    value = record.get(key)
    if not isinstance(value, kind):
        got = "nothing" if value is None else f"{type(value).__name__} {value!r:.40}"
        raise DatasetError(f"{path}: {where}.{key} must be a {kind.__name__}, got {got}")
    return value


def _locate(context: str, text: str, start: int) -> tuple[int, int] | None:
    """The span of `text` at or nearest to `start` (conversion may shift offsets)."""
    if context[start : start + len(text)] == text:
        return (start, start + len(text))
    hits = [i for i in _find_all(context, text)]
    if not hits:
        return None
    best = min(hits, key=lambda i: abs(i - start))
    return (best, best + len(text))


def _find_all(haystack: str, needle: str):
    i = haystack.find(needle)
    while i >= 0:
        yield i
        i = haystack.find(needle, i + 1)


def _load_jsonl(path: Path, convert) -> Dataset:
    try:
        lines = path.read_bytes().decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8 "
                           "(a GBK file: iconv -f gbk -t utf-8)") from exc
    questions = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{n}: not JSON ({exc.msg}); expected "
                               '{"question": ..., "answers": [...], "answerable": true|false}') from exc
        question = _field(path, row, f"line {n}", "question", str)
        answers = row.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise DatasetError(f"{path}: line {n}.answers must be a list of strings, got {answers!r:.60}")
        answerable = row.get("answerable", bool([a for a in answers if a]))
        if not isinstance(answerable, bool):
            raise DatasetError(f"{path}: line {n}.answerable must be true or false, got {answerable!r}")
        refs = [convert(a) for a in answers if a]
        questions.append(Question(str(row.get("id", n)), convert(question), refs, [], None, answerable))
    if not questions:
        raise DatasetError(f"{path}: no questions found")
    return Dataset(path.stem, [], questions, 0)
