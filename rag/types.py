"""The small dataclasses that flow between stages.

Offsets are character offsets into `Document.text` (the decoded text with
line endings normalized to "\\n"), so `doc.text[start:end] == text` always.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

# A citation marker in answer text: "[1]"; group 1 is the number.
MARKER = re.compile(r"\[(\d+)\]")


def content_hash(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Location:
    """Where text[start:end] of a document was in the original file: "第3页", "第2张幻灯片"."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class Document:
    id: str  # content hash of `text`
    source: str  # where it came from (a path, relative to the project when inside it)
    text: str
    locations: tuple[Location, ...] = ()  # sorted, non-overlapping; empty for plain text
    file_sha256: str = ""  # hash of the original file's bytes, when it came from a file

    @classmethod
    def from_text(cls, text: str, source: str, locations: tuple[Location, ...] = (),
                  file_sha256: str = "") -> Document:
        return cls(id=content_hash(text), source=source, text=text, locations=locations,
                   file_sha256=file_sha256)

    def location_at(self, offset: int) -> str:
        """The label of the location holding character `offset`, or "" where none does."""
        starts = [loc.start for loc in self.locations]
        i = bisect.bisect_right(starts, offset) - 1
        if i >= 0 and offset < self.locations[i].end:
            return self.locations[i].label
        return ""

    @property
    def name(self) -> str:
        return self.source.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int
    paragraph: int  # 1-based paragraph (non-empty line) number in the document
    number: int  # 1-based sentence number in the document
    text: str


@dataclass(frozen=True)
class Chunk:
    id: str  # content hash of (doc_id, start, text)
    doc_id: str
    source: str
    start: int
    end: int
    text: str
    sentences: tuple[int, int]  # [first, last) indexes into the document's sentence list
    paragraph: int  # paragraph of the first sentence


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk and how it scored."""

    chunk: Chunk
    score: float  # fused score used for ranking
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    source: str
    start: int
    end: int
    text: str  # the cited sentence, == document.text[start:end]
    paragraph: int
    sentence: int
    chunk_id: str = ""
    # where the reader's short answer lies inside this sentence (document offsets), if it does
    span_start: int | None = None
    span_end: int | None = None
    location: str = ""  # page, slide, sheet and row, heading path or chapter ("第3页"), if known


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # with [n] markers
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    score: float = 0.0  # evidence strength the refusal decision was based on
    timings_ms: dict[str, float] = field(default_factory=dict)
    short: str | None = None  # the reader's short answer ("菏泽"), when a reader answered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
