"""The Pipeline: question -> retrieval -> answer, used by the API, CLI and page.

    p = Pipeline.from_config("configs/default.yaml")
    p.answer("全省脱贫攻坚推进会在哪里召开？")
    for text in p.stream("他还强调了什么？", history=[...]): ...

The index is loaded on first use; if the configured index does not exist yet
and the config's corpus folder does, it is built from there first.
"""

from __future__ import annotations

import dataclasses
import html
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.answerers import make_answerer
from rag.config import Config
from rag.embed import Embedder, TextEmbedder
from rag.errors import IndexNotFoundError, InvalidQuestionError
from rag.generators import ChatGenerator, make_generator
from rag.generators.verify import verify
from rag.index.builder import BuildReport, IndexBuilder, Progress
from rag.index.ledger import first_build_blocker
from rag.index.store import IndexData, load_index
from rag.question import Query, check_question, previous_answers, resolve_followup
from rag.question.script import is_simplified, to_simplified
from rag.retrieve import HybridRetriever, Ranked
from rag.types import MARKER, Answer

STREAM_STEP = 6  # characters added per streamed update


class Pipeline:
    def __init__(self, config: Config, embedder: TextEmbedder | None = None) -> None:
        self.config = config
        self.embedder = embedder if embedder is not None else Embedder(config.embedding)
        self.answerer = make_answerer(config, self.embedder)
        self.generator = make_generator(config)  # cheap: models load on first use
        # (index, retriever) swap together, so a reader never sees a mixed pair
        self._state: tuple[IndexData, HybridRetriever] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> Pipeline:
        return cls(Config.load(path))

    # -- the index ------------------------------------------------------------
    @property
    def index_path(self) -> Path:
        return Path(self.config.index.root) / self.config.index.name

    def builder(self) -> IndexBuilder:
        return IndexBuilder(self.config, self.embedder, dim=self._dim())

    def _dim(self) -> int:
        return int(self.embedder.dim)  # type: ignore[attr-defined]

    @property
    def index(self) -> IndexData:
        return self._current()[0]

    @property
    def loaded(self) -> bool:
        return self._state is not None

    def _current(self) -> tuple[IndexData, HybridRetriever]:
        state = self._state
        if state is None:
            with self._lock:
                if self._state is None:
                    self._load()
                state = self._state
        assert state is not None
        return state

    def _load(self) -> None:
        expected = self.builder().expected_manifest(self._dim())
        try:
            data = load_index(self.index_path, expected, config=self.config.index)
        except IndexNotFoundError as exc:
            sources = self.config.index.sources()
            if not sources:
                raise
            blocker = first_build_blocker(self.index_path, sources)
            if blocker is not None:  # never replace a user's index with the bundled corpus
                raise IndexNotFoundError(blocker) from exc
            self.builder().build(sources)
            data = load_index(self.index_path, expected, config=self.config.index)
        self._set(data)

    def _set(self, data: IndexData) -> None:
        self._simplified = is_simplified(d.text for d in data.documents.values())
        self._state = (data, HybridRetriever(self.config.retrieval, data))

    def _prepare(self, question: object, k: int | None) -> tuple[str, str, int]:
        """The question as asked (checked), as the index reads it (in Simplified for a Simplified
        index), and k."""
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100):
            raise InvalidQuestionError(f"k must be an integer from 1 to 100, got {k!r}")
        asked = check_question(question, self.config.answer.max_question_chars)
        self._current()
        return asked, to_simplified(asked) if self._simplified else asked, k or self.config.retrieval.top_k

    def reload(self) -> None:
        """Pick up an index rebuilt elsewhere; answers keep using the old one until then."""
        data = load_index(self.index_path, self.builder().expected_manifest(self._dim()),
                          config=self.config.index)
        with self._lock:
            self._set(data)

    def build(self, paths: Sequence[Path], progress: Progress | None = None) -> BuildReport:
        """Add or update the documents under `paths` (keeping the others), then swap the new index in."""
        report = self.builder().build(paths, progress=progress)
        self.reload()
        return report

    def remove(self, doc_ids: Sequence[str], progress: Progress | None = None) -> BuildReport:
        """Rebuild without `doc_ids`, then swap the new index in."""
        report = self.builder().remove(doc_ids, progress=progress)
        self.reload()
        return report

    def with_index(self, data: IndexData, config: Config | None = None) -> Pipeline:
        """A pipeline sharing this one's models but answering from `data` (with `config`'s
        answer settings, when given)."""
        other = Pipeline(config or self.config, embedder=self.embedder)
        if config is None:
            other.answerer = self.answerer  # one reader in memory, not one per view
        other.generator = self.generator
        other._set(data)
        return other

    # -- answering ------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None,
                 history: Sequence[Any] | None = None) -> Ranked:
        """Just the retrieval step: dense, lexical and fused rankings."""
        _, question, k = self._prepare(question, k)
        _, retriever = self._current()
        query = resolve_followup(question, history)
        vector = self.embedder.embed([query.search_text], "query")[0]
        return retriever.search(query.search_text, vector, k)

    def _decide(self, question: str, history: Sequence[Any] | None,
                k: int | None) -> tuple[Query, IndexData, Ranked, Answer]:
        """Retrieve, and answer extractively; that answer also decides refusal."""
        t0 = time.perf_counter()
        asked, question, k = self._prepare(question, k)
        index, retriever = self._current()
        query = resolve_followup(question, history)
        if query.is_followup and isinstance(self.generator, ChatGenerator):
            query = dataclasses.replace(query, search_text=self.generator.rewrite(question, history))
        t1 = time.perf_counter()
        vector = self.embedder.embed([query.search_text], "query")[0]
        t2 = time.perf_counter()
        candidates = self.config.answer.candidate_passages
        ranked = retriever.search(query.search_text, vector, max(k, candidates))
        t3 = time.perf_counter()
        exclude = _given_before(history) if query.wants_more else set()
        answer = self.answerer.answer(query, vector, ranked.fused[:candidates], index, exclude)
        t4 = time.perf_counter()
        answer = dataclasses.replace(answer, question=asked, passages=ranked.fused[:k])
        answer.timings_ms.update(check=(t1 - t0) * 1e3, embed=(t2 - t1) * 1e3,
                                 retrieve=(t3 - t2) * 1e3, answer=(t4 - t3) * 1e3,
                                 total=(t4 - t0) * 1e3)
        return query, index, ranked, answer

    def answer(self, question: str, history: Sequence[Any] | None = None,
               k: int | None = None) -> Answer:
        if self.generator is None:
            return self._decide(question, history, k)[3]
        final: Answer | None = None
        for final, _ in self.stream_answer(question, history, k):
            pass
        assert final is not None
        return final

    def stream(self, question: str, history: Sequence[Any] | None = None,
               k: int | None = None) -> Iterator[str]:
        """Yield the growing answer text; the last value is the whole answer."""
        for _, text in self.stream_answer(question, history, k):
            yield text

    def stream_answer(self, question: str, history: Sequence[Any] | None = None,
                      k: int | None = None) -> Iterator[tuple[Answer, str]]:
        """Like stream, with the Answer so far alongside each text; the last one is final."""
        query, index, _, extractive = self._decide(question, history, k)
        if self.generator is None or extractive.refused:  # never call the LLM to refuse
            text = extractive.text
            for end in range(STREAM_STEP, len(text), STREAM_STEP):
                yield extractive, text[:end]
            yield extractive, text
            return
        passages = extractive.passages
        partial = dataclasses.replace(extractive, text="", citations=[])
        text = ""
        started = time.perf_counter()
        for piece in self.generator.stream(query.text, passages, history):
            text += piece
            yield partial, text
        verified, citations = verify(text, passages, index, self.config.generation.support_threshold)
        refusal = self.config.answer.refusal_text
        if refusal in verified or not citations:  # the model refused, or cited nothing it could back
            final = dataclasses.replace(extractive, text=refusal, refused=True, citations=[])
        else:
            final = dataclasses.replace(extractive, text=verified, refused=False, citations=citations)
        final.timings_ms["generate"] = (time.perf_counter() - started) * 1e3
        yield final, final.text


def _given_before(history: Sequence[Any] | None) -> set[str]:
    """Sentences quoted in earlier answers, without [n] markers or page markup."""
    given: set[str] = set()
    for text in previous_answers(history):
        text = re.sub(r'<a class="cite"[^>]*>.*?</a>', "\n", text)  # the page's citation chips
        plain = html.unescape(re.sub(r"<[^>]+>", "\n", text))  # each tag ends a line
        pieces = MARKER.split(plain)[::2]  # odd items are the captured marker numbers
        # a reader's answer puts its short answer on lines of its own above the sentences
        given.update(line.strip() for p in pieces for line in p.split("\n") if line.strip())
    return given


_default: Pipeline | None = None
_default_lock = threading.Lock()


def default_pipeline() -> Pipeline:
    global _default
    with _default_lock:
        if _default is None:
            _default = Pipeline.from_config()
    return _default


def answer(question: str, history: Sequence[Any] | None = None, k: int | None = None) -> Answer:
    """Answer with configs/default.yaml and the default index (built on first use)."""
    return default_pipeline().answer(question, history, k)
