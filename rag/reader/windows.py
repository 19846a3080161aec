"""Reading windows: a sentence with its neighbours in the same paragraph.

The reader never reads a whole chunk. It reads short windows, each grown from one
centre sentence by adding the next neighbour on alternating sides (after, then
before) while the window stays within `max_chars` and inside the paragraph.
Training and answering build windows with this same function, so the reader is
trained on exactly the shape of text it is later shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import Sentence


@dataclass(frozen=True)
class Window:
    doc_id: str
    start: int  # character offsets into the document's text
    end: int
    first: int  # [first, last) indexes into the sentence list it was built from
    last: int
    text: str


def window_around(sentences: Sequence[Sentence], center: int, text: str, max_chars: int) -> Window:
    """The window grown from `sentences[center]`; `text` is the document's text."""
    if not 0 <= center < len(sentences):
        raise IndexError(f"centre sentence {center} is outside 0..{len(sentences) - 1}")
    mid = sentences[center]
    first, last = center, center + 1

    def fits(a: int, b: int) -> bool:  # [a, b) in one paragraph and short enough
        same = sentences[a].paragraph == mid.paragraph == sentences[b - 1].paragraph
        return same and sentences[b - 1].end - sentences[a].start <= max_chars

    grew = True
    while grew:
        grew = False
        if last < len(sentences) and fits(first, last + 1):
            last, grew = last + 1, True
        if first > 0 and fits(first - 1, last):
            first, grew = first - 1, True
    start, end = sentences[first].start, sentences[last - 1].end
    return Window(mid.doc_id, start, end, first, last, text[start:end])


def merge_windows(windows: Sequence[Window]) -> list[Window]:
    """Drop windows contained in another one of the same document (order kept)."""
    kept: list[Window] = []
    for w in windows:
        if any(k.doc_id == w.doc_id and k.start <= w.start and w.end <= k.end for k in kept):
            continue
        kept = [k for k in kept if not (k.doc_id == w.doc_id and w.start <= k.start and k.end <= w.end)]
        kept.append(w)
    return kept
