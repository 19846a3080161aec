"""The files a build keeps beside an index: its lock, its resume cache, its leftovers.

    <root>/.<name>.lock                 one build of an index at a time (flock)
    <root>/.resume-<name>-<fp>/<doc>.npz  vectors embedded so far, per document, so a
                                        killed build picks up where it stopped; <fp> is
                                        the embedding model + chunker, so a changed
                                        setting never reuses stale vectors
    <root>/.<name>.v<time>-*/           version folders; all but the live one are
                                        leftovers of builds killed before their swap
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rag.errors import BuildLockedError

Vectors = tuple[np.ndarray, np.ndarray]  # (chunk vectors, sentence vectors) of one document


@contextmanager
def build_lock(link: Path) -> Iterator[None]:
    """Hold the index's lock, or raise BuildLockedError at once if another build has it."""
    link.parent.mkdir(parents=True, exist_ok=True)
    with open(link.parent / f".{link.name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildLockedError(f"another build of {link} is running; try again later") from exc
        yield


def sweep(link: Path) -> None:
    """Delete version folders left by builds that were killed before their swap."""
    live = link.resolve() if link.is_symlink() else None
    for folder in link.parent.glob(f".{link.name}.v*"):
        if folder.is_dir() and folder.resolve() != live:
            shutil.rmtree(folder, ignore_errors=True)


class ResumeCache:
    """Per-document vectors of an unfinished build, each file written atomically."""

    def __init__(self, link: Path, manifest: dict) -> None:
        key = json.dumps([manifest["embedding"], manifest["chunker"]], sort_keys=True)
        fingerprint = hashlib.sha256(key.encode()).hexdigest()[:12]
        self.folder = link.parent / f".resume-{link.name}-{fingerprint}"

    def load(self, doc_id: str) -> Vectors | None:
        """The saved vectors of `doc_id`; a damaged file is deleted and counts as absent."""
        path = self.folder / f"{doc_id}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path) as z:
                return z["chunk_vectors"], z["sentence_vectors"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)
            return None

    def save(self, doc_id: str, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{doc_id}.npz"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            np.savez(f, chunk_vectors=chunk_vectors, sentence_vectors=sentence_vectors)
        os.replace(tmp, path)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
