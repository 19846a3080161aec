"""Files -> Documents for a build: read each once, and never parse the same bytes twice.

A document's `source` is its path relative to the working directory when inside it,
else absolute; the same string finds the file again when an index must be repaired.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from rag.documents import iter_files, load_file, parse_file, read_file_bytes
from rag.errors import DocumentError
from rag.types import Document

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Read:
    documents: list[Document]
    skipped: list[tuple[str, str]]  # (source, reason)
    notes: list[str]  # per-file remarks, e.g. pages skipped as scans


def read_files(paths: Sequence[Path], known: Sequence[Document], max_bytes: int) -> Read:
    """Every supported file under `paths`; one with the bytes of a `known` document is not parsed."""
    by_bytes = {d.file_sha256: d for d in known if d.file_sha256}
    out = Read([], [], [])
    for file in iter_files(Path(p) for p in paths):
        source = display_path(file)
        try:
            data = read_file_bytes(file, max_bytes)  # read once: hashed, then parsed if new
            digest = hashlib.sha256(data).hexdigest()
            doc = by_bytes.get(digest)
            if doc is not None:
                out.documents.append(dataclasses.replace(doc, source=source))
                continue
            doc, notes = parse_file(data, file, source=source, digest=digest)
            out.documents.append(doc)
            out.notes.extend(notes)
        except (DocumentError, OSError) as exc:
            log.info("skipping %s: %s", file, exc)  # the build report carries it to the user
            out.skipped.append((source, str(exc)))
    return out


def reload_source(source: str, max_bytes: int) -> Document | None:
    """The document at `source` read again, or None when it is gone or unreadable."""
    try:
        return load_file(Path(source), source=source, max_bytes=max_bytes)[0]
    except (DocumentError, OSError):
        return None


def display_path(path: Path) -> str:
    """A path relative to the working directory when inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
