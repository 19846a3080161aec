"""The on-disk index: a folder with a versioned manifest and plain files.

    manifest.json     format + version header, embedding model and dim, chunker,
                      lexical tokenizer, and every document's content hash
    documents.jsonl   one {id, source, text} per line
    sentences.jsonl   one {doc_id, start, end, paragraph, number} per line
    chunks.jsonl      one chunk per line, with its BM25 tokens
    vectors.npz       chunk_vectors [n_chunks, dim], sentence_vectors [n_sentences, dim]
    dense.faiss       the FAISS index over chunk_vectors   } the faiss backend; the milvus
    bm25/             the bm25s index                      } backend keeps these in Milvus

`index/<name>` is a symlink to a versioned sibling folder; a build writes a new
folder and swaps the link with one atomic rename, so readers see either the
whole old index or the whole new one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import Chunker
from rag.config import Config, IndexConfig
from rag.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.index.backends import Backend, backend_for, make_backend
from rag.index.ledger import clear_ledger
from rag.index.search import ChunkSearch
from rag.types import Chunk, Document, Location, Sentence

FORMAT = "rag-zh-index"
VERSION = 1
REBUILD_HINT = "run `rag index build` to rebuild it"


@dataclass
class IndexData:
    """Everything retrieval and answering need, fully in memory."""

    manifest: dict[str, Any]
    documents: dict[str, Document]
    sentences: list[Sentence]
    chunks: list[Chunk]
    chunk_tokens: list[list[str]]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    search: ChunkSearch | None = None  # None until a backend opens it (a build's own data has none)
    # doc id -> (its rows in `chunks`, its rows in `sentences`), derived once here so
    # that per-document work (incremental reuse, per-context views) never rescans all rows
    doc_rows: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict, init=False, repr=False)
    _df: Counter[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for row, chunk in enumerate(self.chunks):
            self.doc_rows.setdefault(chunk.doc_id, ([], []))[0].append(row)
        for row, sentence in enumerate(self.sentences):
            self.doc_rows.setdefault(sentence.doc_id, ([], []))[1].append(row)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a lexical token over chunks; an unseen term gets the maximum."""
        if self._df is None:
            self._df = Counter(t for tokens in self.chunk_tokens for t in set(tokens))
        return math.log((len(self.chunks) + 1) / (self._df.get(term, 0) + 1)) + 1.0

    def chunk_sentence_rows(self, chunk: Chunk) -> range:
        base = self.doc_rows[chunk.doc_id][1][0]  # a document's sentences are contiguous
        return range(base + chunk.sentences[0], base + chunk.sentences[1])


# What a change of each setting costs: the vectors (re-embed) or only the index files.
REEMBED = {"embedding.model": True, "embedding.dim": True, "embedding.passage_prompt": True,
           "embedding.max_seq_length": True, "chunker": True, "lexical": False, "dense": False,
           "backend": False}


def stored_settings(config: Config) -> dict:
    """Every setting the stored chunks, vectors and index files depend on (REEMBED below)."""
    e = config.embedding
    return {
        "embedding": {"model": e.model, "passage_prompt": e.passage_prompt, "query_prompt": e.query_prompt,
                      "max_seq_length": e.max_seq_length},
        "chunker": Chunker(config.chunking).fingerprint(),
        "lexical": {"tokenizer": config.index.lexical_tokenizer},
        "dense": {"kind": config.index.dense} if config.index.backend == "faiss" else None,
        "backend": make_backend(config.index).settings(),
    }


def differences(manifest: dict[str, Any], expected: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(setting, index has, config wants) for every stored-data setting that differs.

    A key an older index does not record is taken to be what the config wants."""
    out = []
    for key in REEMBED:
        section, _, sub = key.partition(".")
        have, want = manifest.get(section, _BEFORE_BACKENDS.get(section)), expected.get(section)
        if sub:
            have = have.get(sub) if isinstance(have, dict) else None
            want = want.get(sub) if isinstance(want, dict) else None
        if want is None or have is None:
            continue  # not asked about, or not recorded by an older version: taken as unchanged
        if have != want:
            out.append((key, have, want))
    return out


_BEFORE_BACKENDS = {"backend": {"kind": "faiss"}}  # what an index that does not record it used


def check_compatible(manifest: dict[str, Any], expected: dict[str, Any], folder: Path) -> None:
    """Refuse an index built with other settings, saying what differs and what a rebuild redoes."""
    diffs = differences(manifest, expected)
    if diffs:
        reembed = any(REEMBED[k] for k, _, _ in diffs)
        raise IndexMismatchError(
            f"the index at {folder} was built with different settings:\n  "
            + "\n  ".join(f"{k}: index has {have!r}, config wants {want!r}" for k, have, want in diffs)
            + "\nRun `rag index build` to bring it up to date ("
            + ("re-embeds every document" if reembed else "no re-embedding: only the index files")
            + ")."
        )


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not folder.exists():
        raise IndexNotFoundError(f"no index at {folder}; {REBUILD_HINT}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"{path} is missing: not a rag-zh index; {REBUILD_HINT}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}); {REBUILD_HINT}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(f"{path} is not a rag-zh index manifest; {REBUILD_HINT}")
    if manifest.get("version") != VERSION:
        raise IndexCorruptError(
            f"{path}: index format version {manifest.get('version')!r} is not supported "
            f"(this rag-zh reads version {VERSION}); {REBUILD_HINT}"
        )
    missing = [k for k in ("embedding", "chunker", "lexical", "documents") if k not in manifest]
    if missing or not isinstance(manifest["embedding"], dict) or "dim" not in manifest["embedding"]:
        raise IndexCorruptError(f"{path} lacks {', '.join(missing) or 'embedding.dim'}; {REBUILD_HINT}")
    return manifest


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_documents(path: Path) -> list[Document]:
    """The documents of a documents.jsonl (raises OSError, ValueError, KeyError or TypeError)."""
    return [Document(d["id"], d["source"], d["text"], tuple(Location(*loc) for loc in d.get("locations", ())),
                     d.get("file_sha256", "")) for d in _jsonl(path)]


def load_index(folder: Path, expected: dict[str, Any] | None = None, *,
               config: IndexConfig | None = None, search: bool = True) -> IndexData:
    """Load and validate; any damage raises IndexCorruptError naming the file.

    With `search`, the chunk search is opened too, by the backend the manifest names, with
    what only `config` may hold (the Milvus token). A build reading the old index only to
    reuse its vectors needs no search."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if expected is not None:
        check_compatible(manifest, expected, folder)
    current = folder / "manifest.json"
    try:
        current = folder / "documents.jsonl"
        documents = {d.id: d for d in read_documents(current)}
        current = folder / "sentences.jsonl"
        sentences = []
        for s in _jsonl(current):
            text = documents[s["doc_id"]].text[s["start"] : s["end"]]
            sentences.append(Sentence(s["doc_id"], s["start"], s["end"], s["paragraph"], s["number"], text))
        current = folder / "chunks.jsonl"
        chunks, tokens = [], []
        for c in _jsonl(current):
            doc = documents[c["doc_id"]]
            chunks.append(Chunk(c["id"], c["doc_id"], doc.source, c["start"], c["end"],
                                doc.text[c["start"] : c["end"]], tuple(c["sentences"]), c["paragraph"]))
            tokens.append(c["tokens"])
        current = folder / "vectors.npz"
        with np.load(current, allow_pickle=False) as z:
            chunk_vectors, sentence_vectors = z["chunk_vectors"], z["sentence_vectors"]
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, EOFError,
            zipfile.BadZipFile) as exc:
        raise IndexCorruptError(f"{current} is missing or damaged ({type(exc).__name__}: {exc}); "
                                f"{REBUILD_HINT}") from exc
    n, dim = len(chunks), manifest.get("embedding", {}).get("dim")
    if chunk_vectors.shape != (n, dim) or sentence_vectors.shape != (len(sentences), dim):
        raise IndexCorruptError(
            f"{folder}: files disagree on sizes (chunks {n}, chunk vectors {chunk_vectors.shape}, "
            f"sentences {len(sentences)}, sentence vectors {sentence_vectors.shape}); {REBUILD_HINT}"
        )
    data = IndexData(manifest, documents, sentences, chunks, tokens, chunk_vectors, sentence_vectors)
    if search:
        data.search = backend_for(manifest, config or IndexConfig()).open(data, folder)
    return data


def write_index(data: IndexData, folder: Path, backend: Backend, previous: IndexData | None = None) -> None:
    """Write every file into `folder` (a fresh, private folder) and fill `backend`, manifest last."""
    folder.mkdir(parents=True, exist_ok=True)

    def write_jsonl(name: str, rows: list[dict[str, Any]]) -> None:
        with (folder / name).open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    write_jsonl("documents.jsonl", [{"id": d.id, "source": d.source, "text": d.text,
                                     "locations": [[x.start, x.end, x.label] for x in d.locations],
                                     "file_sha256": d.file_sha256}
                                    for d in data.documents.values()])
    write_jsonl("sentences.jsonl", [{"doc_id": s.doc_id, "start": s.start, "end": s.end,
                                     "paragraph": s.paragraph, "number": s.number}
                                    for s in data.sentences])
    write_jsonl("chunks.jsonl", [{"id": c.id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
                                  "sentences": list(c.sentences), "paragraph": c.paragraph,
                                  "tokens": t} for c, t in zip(data.chunks, data.chunk_tokens, strict=True)])
    np.savez(folder / "vectors.npz", chunk_vectors=data.chunk_vectors,
             sentence_vectors=data.sentence_vectors)
    backend.write(data, folder, previous)
    for path in folder.rglob("*"):  # make the bytes durable before the swap
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())
    (folder / "manifest.json").write_text(json.dumps(data.manifest, ensure_ascii=False, indent=2),
                                          encoding="utf-8")


def swap_in(new_folder: Path, link: Path) -> None:
    """Point `link` at `new_folder` atomically, then delete the previous version."""
    link = Path(link)
    old_target = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        # A plain folder from elsewhere: move it aside, never delete user data blindly.
        link.rename(link.with_name(f".{link.name}.replaced-{int(time.time())}"))
    tmp_link = link.with_name(f".{link.name}.link-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    tmp_link.symlink_to(new_folder.name)
    os.replace(tmp_link, link)  # the atomic step
    if old_target is not None and old_target != new_folder.resolve() and old_target.exists():
        shutil.rmtree(old_target, ignore_errors=True)


def remove_index(link: Path) -> bool:
    """Delete an index and its versioned folder; False if there was none."""
    link = Path(link)
    if not link.exists() and not link.is_symlink():
        return False
    target = link.resolve() if link.is_symlink() else link
    link.unlink() if link.is_symlink() else shutil.rmtree(link)
    clear_ledger(link)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    return True
