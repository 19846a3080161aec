"""Incremental, resumable, atomic index builds.

1. Load every file (text here; PDF, Office and EPUB through rag.formats). A file whose
   bytes match one indexed before is not parsed again; one that cannot be read is
   skipped with its reason, and the others still go in.
2. Documents are keyed by content hash, so a duplicate is indexed once.
3. A document already in the current index keeps its chunks and vectors; a new
   or changed one is chunked and embedded; a missing one is dropped.
4. Fresh vectors are also saved per document under <root>/.resume-<name>-<fp>/,
   so a build that is killed picks up where it stopped.
5. The new index is written to a new folder and swapped in atomically.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.chunking import Chunker
from rag.config import Config
from rag.embed import TextEmbedder
from rag.errors import DocumentError, EmptyCorpusError, IndexBackendError, RagError
from rag.index.backends import make_backend
from rag.index.files import read_files, reload_source
from rag.index.ledger import write_ledger
from rag.index.prepared import EMBED_GROUP, Prepared, combine, groups, prepare, reuse
from rag.index.repair import recover_documents
from rag.index.store import (
    FORMAT,
    REEMBED,
    VERSION,
    IndexData,
    differences,
    load_index,
    stored_settings,
    swap_in,
    write_index,
)
from rag.index.workdir import ResumeCache, build_lock, sweep
from rag.types import Document

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (documents embedded so far, documents to embed)


@dataclass
class BuildReport:
    documents: int = 0
    chunks: int = 0
    sentences: int = 0
    added: list[str] = field(default_factory=list)  # sources embedded in this build
    reused: list[str] = field(default_factory=list)  # sources taken from the old index
    resumed: list[str] = field(default_factory=list)  # sources taken from an interrupted build
    removed: list[str] = field(default_factory=list)  # sources no longer indexed
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (source, same as)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    kept: list[str] = field(default_factory=list)  # sources kept from the old index, not under PATHS
    notes: list[str] = field(default_factory=list)  # per-file remarks, e.g. pages skipped as scans
    embedded_texts: int = 0
    embedded_tokens: int = 0
    seconds: float = 0.0
    path: str = ""


class IndexBuilder:
    def __init__(self, config: Config, embedder: TextEmbedder, *, dim: int | None = None,
                 embed_group: int = EMBED_GROUP) -> None:
        """`embed_group`: about this many texts go to the embedder per call (and per resume save)."""
        if embed_group < 1:
            raise ValueError(f"embed_group must be >= 1, got {embed_group}")
        self.embed_group = embed_group
        self.config = config
        self.embedder = embedder
        self.chunker = Chunker(config.chunking)
        self.link = Path(config.index.root) / config.index.name
        self.backend = make_backend(config.index)
        self._dim = dim

    def expected_manifest(self, dim: int) -> dict:
        settings = stored_settings(self.config)
        settings["embedding"].update(model=self.embedder.model_id, dim=dim)
        return {"format": FORMAT, "version": VERSION, **settings}

    # -- entry points -------------------------------------------------------
    def build(self, paths: Sequence[Path], progress: Progress | None = None, *,
              sync: bool = False) -> BuildReport:
        """Add or update the documents under `paths`, keeping every other indexed document.

        With `sync`, index exactly the documents under `paths`: the others are removed
        (and listed in the report's `removed`).
        """
        report = BuildReport()
        current = self._current_index()
        old = self._old_documents(current, report)
        read = read_files(paths, old, self.config.index.max_file_bytes)
        documents, report.skipped, report.notes = read.documents, read.skipped, report.notes + read.notes
        if not sync:  # keep what was indexed before, unless a file of the same source (an update)
            # or of the same content (a rename or a copy) was read now
            sources, ids = {d.source for d in documents}, {d.id for d in documents}
            kept = [d for d in old if d.source not in sources and d.id not in ids]
            report.kept = [d.source for d in kept]
            documents = documents + kept
        return self._build(documents, report, progress, current)

    def remove(self, doc_ids: Collection[str], progress: Progress | None = None) -> BuildReport:
        """Rebuild without the documents `doc_ids` (their vectors are not recomputed)."""
        current = self._current_index()
        old = self._old_documents(current)
        missing = set(doc_ids) - {d.id for d in old}
        if missing:
            raise DocumentError(f"not in the index: {', '.join(sorted(missing))}")
        keep = [d for d in old if d.id not in set(doc_ids)]
        if not keep:
            raise EmptyCorpusError("removing these would leave the index empty; "
                                   "use `rag index remove --all` to delete the whole index")
        return self._build(keep, BuildReport(), progress, current)

    def _current_index(self) -> IndexData | RagError | None:
        """The index on disk, read once per build: None if there is none, the error if it is damaged."""
        if not self.link.exists():
            return None
        try:  # no settings check: documents do not depend on settings, and _previous checks vectors
            return load_index(self.link, search=False)
        except RagError as exc:
            return exc

    def _old_documents(self, current: IndexData | RagError | None,
                       report: BuildReport | None = None) -> list[Document]:
        """The documents of the current index; from a damaged one, what can be recovered
        (rag.index.repair), which is then re-embedded."""
        if current is None:
            return []
        if isinstance(current, IndexData):
            return list(current.documents.values())
        docs, done = recover_documents(
            self.link, lambda source: reload_source(source, self.config.index.max_file_bytes))
        log.warning("the index cannot be reused (%s); %s", current, done)
        if report is not None:
            report.notes.append(f"the index could not be reused ({current}); {done}")
        return docs

    def build_documents(self, documents: Sequence[Document], *, progress: Progress | None = None,
                        report: BuildReport | None = None) -> BuildReport:
        """Index exactly `documents`, reusing the vectors of those already indexed."""
        return self._build(documents, report or BuildReport(), progress, self._current_index())

    def _build(self, documents: Sequence[Document], report: BuildReport, progress: Progress | None,
               current: IndexData | RagError | None) -> BuildReport:
        started = time.perf_counter()
        unique: dict[str, Document] = {}
        for doc in documents:
            if doc.id in unique:
                report.duplicates.append((doc.source, unique[doc.id].source))
            else:
                unique[doc.id] = doc
        if not unique:
            raise EmptyCorpusError(
                "no indexable text found"
                + (f" (skipped: {', '.join(s for s, _ in report.skipped)})" if report.skipped else "")
                + "; no index was written"
            )
        with build_lock(self.link):
            sweep(self.link)
            self.backend.ping()
            data = self._assemble(list(unique.values()), report, progress, current)
            self.link.parent.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix=f".{self.link.name}.v{int(time.time())}-",
                                           dir=self.link.parent))
            try:
                write_index(data, folder, self.backend, current if isinstance(current, IndexData) else None)
                swap_in(folder, self.link)
            except IndexBackendError as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise IndexBackendError(f"{exc}\nThe build stopped before the swap: the current index is "
                                        "unchanged and the vectors embedded so far are kept, so the same "
                                        "build run again resumes.") from exc
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            ResumeCache(self.link, data.manifest).clear()
            write_ledger(self.link, [d.source for d in data.documents.values()])
            self.backend.finish(data)  # after the swap: a failure here leaves a complete new index
        report.documents, report.chunks, report.sentences = len(unique), len(data.chunks), len(data.sentences)
        report.seconds = time.perf_counter() - started
        report.path = str(self.link)
        return report

    # -- steps ----------------------------------------------------------------
    @staticmethod
    def _previous(current: IndexData | RagError | None, expected: dict) -> IndexData | None:
        """The current index, if its chunks and vectors can be reused under `expected`."""
        if isinstance(current, RagError):  # damaged: everything is embedded again
            log.warning("not reusing the existing index: %s", current)
        if not isinstance(current, IndexData):
            return None
        old = current
        changed = differences(old.manifest, expected)
        if any(REEMBED[key] for key, _, _ in changed):
            log.warning("re-embedding every document: %s changed", ", ".join(k for k, _, _ in changed))
            return None
        return old

    def _assemble(self, docs: list[Document], report: BuildReport, progress: Progress | None,
                  current: IndexData | RagError | None) -> IndexData:
        dim = self._dim or int(getattr(self.embedder, "dim"))
        expected = self.expected_manifest(dim)
        old = self._previous(current, expected)
        resume = ResumeCache(self.link, expected)
        prepared: list[Prepared] = []
        todo: list[Prepared] = []
        for doc in docs:
            if old is not None and doc.id in old.documents:
                prepared.append(reuse(old, doc, self.config.index.lexical_tokenizer))
                report.reused.append(doc.source)
                continue
            p = prepare(doc, self.chunker, self.config.index.lexical_tokenizer)
            saved = resume.load(doc.id)
            if saved is not None:
                p.chunk_vectors, p.sentence_vectors = saved
                report.resumed.append(doc.source)
            prepared.append(p)
            if p.chunk_vectors is None:
                todo.append(p)
        if old is not None:
            kept = {d.id for d in docs}
            sources = {d.source for d in docs}  # a changed file is an update, not a removal
            report.removed = [d.source for d in old.documents.values()
                              if d.id not in kept and d.source not in sources]
        self._embed(todo, resume, report, progress)
        return combine(prepared, expected)

    def _embed(self, todo: list[Prepared], resume: ResumeCache, report: BuildReport,
               progress: Progress | None) -> None:
        if not todo:
            return
        bar = _bar(len(todo)) if progress is None else None
        done = 0
        for group in groups(todo, self.embed_group):
            texts = [c.text for p in group for c in p.chunks] + [s.text for p in group for s in p.sentences]
            vectors = self.embedder.embed(texts, "passage")
            report.embedded_texts += len(texts)
            if hasattr(self.embedder, "count_tokens"):
                report.embedded_tokens += self.embedder.count_tokens(texts, "passage")
            n_chunks = sum(len(p.chunks) for p in group)
            cv, sv = vectors[:n_chunks], vectors[n_chunks:]
            for p in group:
                p.chunk_vectors, cv = cv[: len(p.chunks)], cv[len(p.chunks) :]
                p.sentence_vectors, sv = sv[: len(p.sentences)], sv[len(p.sentences) :]
                resume.save(p.doc.id, p.chunk_vectors, p.sentence_vectors)
                report.added.append(p.doc.source)
            done += len(group)
            if bar is not None:
                bar.update(len(group))
            if progress is not None:
                progress(done, len(todo))
        if bar is not None:
            bar.close()

def _bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding documents", unit="doc", disable=total < 2)
