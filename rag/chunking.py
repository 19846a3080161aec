"""Chinese-aware sentence splitting and chunk packing. No spaces are assumed.

1. Paragraphs are the non-empty lines of the document.
2. A sentence ends after a run of 。！？；… (or ! ? ; and a ". " in Latin text),
   plus any closing quotes or brackets that follow, so 他说：“好。” stays whole.
3. A sentence longer than `max_sentence_chars` is cut after a comma (，, 、)
   where possible, else hard, so no unit is too long to cite precisely.
4. Sentences are packed greedily into chunks of about `chunk_chars`, and each
   chunk starts with the last `overlap_sentences` sentences of the previous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.config import ChunkingConfig
from rag.errors import ConfigError
from rag.types import Chunk, Document, Sentence, content_hash

_CLOSERS = "”’」』）)】》〉\"'］]"
_SENTENCE_END = re.compile(rf"(?:[。！？；!?;]+|…+|\.(?=\s|$))[{re.escape(_CLOSERS)}]*")
_SOFT_BREAK = re.compile(r"[，,、：:]")


@dataclass(frozen=True)
class Chunker:
    config: ChunkingConfig

    def __post_init__(self) -> None:
        c = self.config
        if c.chunk_chars < 1 or c.max_sentence_chars < 1:
            raise ConfigError(
                f"chunk_chars and max_sentence_chars must be >= 1, got {c.chunk_chars}, "
                f"{c.max_sentence_chars}"
            )
        if c.overlap_sentences < 0:
            raise ConfigError(f"overlap_sentences must be >= 0, got {c.overlap_sentences}")

    def fingerprint(self) -> dict[str, int | str]:
        """Everything that changes chunk boundaries; stored in the index manifest."""
        return {
            "algorithm": "zh-sentence-v1",
            "chunk_chars": self.config.chunk_chars,
            "overlap_sentences": self.config.overlap_sentences,
            "max_sentence_chars": self.config.max_sentence_chars,
        }

    def sentences(self, doc: Document) -> list[Sentence]:
        return split_sentences(doc, self.config.max_sentence_chars)

    def chunk(self, doc: Document, sentences: list[Sentence] | None = None) -> list[Chunk]:
        sents = sentences if sentences is not None else self.sentences(doc)
        chunks: list[Chunk] = []
        first = 0
        while first < len(sents):
            last = first + 1  # always at least one sentence
            while last < len(sents) and sents[last].end - sents[first].start <= self.config.chunk_chars:
                last += 1
            start, end = sents[first].start, sents[last - 1].end
            text = doc.text[start:end]
            chunks.append(
                Chunk(
                    id=content_hash(f"{doc.id}:{start}:{text}"),
                    doc_id=doc.id,
                    source=doc.source,
                    start=start,
                    end=end,
                    text=text,
                    sentences=(first, last),
                    paragraph=sents[first].paragraph,
                )
            )
            if last >= len(sents):
                break
            first = max(first + 1, last - self.config.overlap_sentences)
        return chunks


def split_sentences(doc: Document, max_chars: int = 200) -> list[Sentence]:
    spans: list[tuple[int, int, int]] = []  # (start, end, paragraph)
    offset, paragraph = 0, 0
    for line in doc.text.split("\n"):
        line_start = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        paragraph += 1
        cut = 0
        for match in _SENTENCE_END.finditer(line):
            spans.extend(_trimmed(line, cut, match.end(), line_start, paragraph, max_chars))
            cut = match.end()
        spans.extend(_trimmed(line, cut, len(line), line_start, paragraph, max_chars))
    return [
        Sentence(doc.id, s, e, p, i + 1, doc.text[s:e]) for i, (s, e, p) in enumerate(spans)
    ]


def _trimmed(line: str, a: int, b: int, base: int, paragraph: int, max_chars: int):
    """Strip whitespace from line[a:b]; split it if too long; yield absolute spans."""
    while a < b and line[a].isspace():
        a += 1
    while b > a and line[b - 1].isspace():
        b -= 1
    while b - a > max_chars:
        window = line[a : a + max_chars]
        breaks = [m.end() for m in _SOFT_BREAK.finditer(window) if m.end() >= max_chars // 3]
        cut = a + (breaks[-1] if breaks else max_chars)
        yield (base + a, base + cut, paragraph)
        a = cut
        while a < b and line[a].isspace():
            a += 1
    if b > a:
        yield (base + a, base + b, paragraph)
