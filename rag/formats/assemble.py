"""Build a document's text from labelled blocks, keeping each block's location.

    a = Assembler()
    a.add("第一页的文字", "第1页")
    a.add("第二页的文字", "第2页")
    text, locations = a.text(), a.locations   # "第一页的文字\n第二页的文字", [(0, 6, "第1页"), …]

Blocks are cleaned as they come in (\\r and \\v become line breaks, runs of spaces
shrink, empty lines go), so the joined text needs no later normalization and every
offset into it stays exact.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field

from rag.errors import DocumentError
from rag.types import Location

_SPACES = re.compile(r"[ \t\u3000\xa0]+")


def clean_block(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\v", "\n").split("\n")
    return "\n".join(s for s in (_SPACES.sub(" ", line).strip() for line in lines) if s)


@dataclass
class Extracted:
    text: str
    locations: tuple[Location, ...] = ()
    notes: list[str] = field(default_factory=list)  # things the user should hear, per file


class Assembler:
    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.locations: list[Location] = []

    def add(self, text: str, label: str) -> None:
        """Append a block (cleaned; nothing if it is empty) under `label`."""
        block = clean_block(text)
        if not block:
            return
        if self._parts:
            self._parts.append("\n")
            self._length += 1
        start = self._length
        self._parts.append(block)
        self._length += len(block)
        last = self.locations[-1] if self.locations else None
        if last is not None and last.label == label and last.end == start - 1:
            self.locations[-1] = Location(last.start, self._length, label)  # same place, one span
        else:
            self.locations.append(Location(start, self._length, label))

    def text(self) -> str:
        return "".join(self._parts)

    def extracted(self, notes: list[str] | None = None) -> Extracted:
        return Extracted(self.text(), tuple(self.locations), list(notes or []))


def open_zip(data: bytes, name: str, kind: str, max_unpacked: int = 500_000_000) -> zipfile.ZipFile:
    """Open an Office/EPUB container, refusing non-ZIP data and zip bombs."""
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise DocumentError(f"{name}: not a readable {kind} file "
                            f"(not a complete ZIP container: {exc})") from exc
    if unpacked > max_unpacked:
        raise DocumentError(f"{name}: unpacks to {unpacked} bytes, over the limit of {max_unpacked}")
    return archive
