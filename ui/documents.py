"""Uploading and removing documents from the page, safely.

An upload is checked completely (type, size, encoding, non-empty) before it is
copied into the uploads folder under a sanitized name; if the rebuild then fails,
the copied files are taken out again, so the index and folder never disagree.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from rag.documents import SUPPORTED, load_document
from rag.errors import ConfigError, DocumentError, RagError
from rag.index.builder import BuildReport, Progress
from rag.pipeline import Pipeline


@dataclass
class UploadResult:
    added: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    report: BuildReport | None = None


def safe_name(name: str) -> str:
    """A plain file name: no folders, no leading dots, no control or path characters."""
    base = unicodedata.normalize("NFC", Path(str(name).replace("\\", "/")).name)
    base = re.sub(r"[\x00-\x1f/\\:*?\"<>|]", "_", base).strip().lstrip(".")
    return base[:120] or "document.txt"


class DocumentManager:
    def __init__(self, pipeline: Pipeline, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ConfigError(f"max_upload_bytes must be >= 1, got {max_bytes}")
        self.pipeline = pipeline
        self.max_bytes = max_bytes
        self.folder = Path(pipeline.config.index.uploads)

    def uploaded(self) -> list[str]:
        """Names of uploaded files (the bundled corpus is not removable from the page)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.suffix.lower() in SUPPORTED)

    def add(self, paths: list[str], progress: Progress | None = None) -> UploadResult:
        result = UploadResult()
        accepted: list[tuple[Path, str]] = []
        for raw in paths:
            src, name = Path(raw), safe_name(Path(raw).name)
            try:
                size = src.stat().st_size
                if size > self.max_bytes:
                    raise DocumentError(f"{name}: {size} bytes is over the upload limit of {self.max_bytes}")
                load_document(src, source=name, max_bytes=self.max_bytes)
                if Path(name).suffix.lower() not in SUPPORTED:
                    raise DocumentError(f"{name}: unsupported file type")
            except (DocumentError, OSError) as exc:
                result.rejected.append((name, str(exc)))
                continue
            accepted.append((src, name))
        if not accepted:
            return result
        self.folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        backups: dict[Path, bytes] = {}
        for src, name in accepted:
            dest = (self.folder / name).resolve()
            if dest.parent != self.folder.resolve():  # belt and braces: never outside the folder
                result.rejected.append((name, "invalid file name"))
                continue
            if dest.exists():
                backups[dest] = dest.read_bytes()
            dest.write_bytes(src.read_bytes())
            written.append(dest)
            result.added.append(name)
        try:
            # only the new files: every other indexed document (from the CLI too) is kept
            result.report = self.pipeline.build(written, progress=progress)
        except (RagError, OSError):
            for dest in written:  # roll back: the folder matches the (unchanged) index again
                if dest in backups:
                    dest.write_bytes(backups[dest])
                else:
                    dest.unlink(missing_ok=True)
            raise
        return result

    def remove(self, name: str, progress: Progress | None = None) -> BuildReport:
        name = safe_name(name)
        target = (self.folder / name).resolve()
        if target.parent != self.folder.resolve() or not target.is_file():
            raise DocumentError(f"{name}: not an uploaded document")
        data = target.read_bytes()
        target.unlink()
        try:
            ids = [d.id for d in self.pipeline.index.documents.values()
                   if Path(d.source).resolve() == target]
            return self.pipeline.remove(ids, progress=progress)
        except (RagError, OSError):
            target.write_bytes(data)
            raise
