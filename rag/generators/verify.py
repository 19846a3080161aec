"""Check every [n] of a generated answer against passage n.

1. Cut the answer into claims (sentences), each with the markers attached to it.
2. A marker is kept when passage n supports its claim: the share of the claim's
   character bigrams found in the passage reaches `threshold`.
3. An unsupported marker moves to the passage that does support the claim, or is
   dropped; a marker whose number is out of range is dropped.
4. Each kept n becomes a Citation of the passage sentence closest to its claims.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.index.store import IndexData
from rag.question import bigrams
from rag.types import MARKER, Citation, Passage

_CLAIM = re.compile(r"[^。！？!?；;\n]*(?:\[\d+\])*[。！？!?；;\n]?(?:\s*\[\d+\])*")


def support(claim: str, text: str) -> float:
    grams = bigrams(claim)
    return len(grams & bigrams(text)) / len(grams) if grams else 0.0


def verify(answer: str, passages: Sequence[Passage], index: IndexData,
           threshold: float) -> tuple[str, list[Citation]]:
    """The answer with only supported markers, and a Citation for each kept number."""
    parts: list[str] = []
    claims_for: dict[int, list[str]] = {}
    for piece in _CLAIM.findall(answer):
        if not piece:
            continue
        claim = MARKER.sub("", piece)
        kept: list[int] = []
        for n in (int(x) for x in MARKER.findall(piece)):
            if not 1 <= n <= len(passages):
                continue  # out of range: dropped
            if support(claim, passages[n - 1].chunk.text) < threshold:
                scores = [support(claim, p.chunk.text) for p in passages]
                best = max(range(len(passages)), key=scores.__getitem__)
                if scores[best] < threshold:
                    continue  # nothing supports it: dropped
                n = best + 1  # moved to the passage that does
            if n not in kept:
                kept.append(n)
                claims_for.setdefault(n, []).append(claim)
        body = claim.rstrip()
        end = body[-1] if body and body[-1] in "。！？!?；;" else ""
        body = body[: len(body) - len(end)] if end else body
        parts.append(body + "".join(f"[{n}]" for n in kept) + end + claim[len(claim.rstrip()):])
    text = "".join(parts)
    return text, [_cite(n, claims_for[n], passages[n - 1], index) for n in sorted(claims_for)]


def _cite(n: int, claims: list[str], passage: Passage, index: IndexData) -> Citation:
    """The passage sentence that best matches what was claimed from it."""
    chunk = passage.chunk
    rows = index.chunk_sentence_rows(chunk)
    joined = "".join(claims)
    row = max(rows, key=lambda r: support(joined, index.sentences[r].text)) if len(rows) else None
    doc = index.documents[chunk.doc_id]
    if row is None:
        return Citation(n, chunk.doc_id, chunk.source, chunk.start, chunk.end, chunk.text,
                        chunk.paragraph, 0, chunk.id, location=doc.location_at(chunk.start))
    s = index.sentences[row]
    return Citation(n, s.doc_id, chunk.source, s.start, s.end, s.text, s.paragraph, s.number, chunk.id,
                    location=doc.location_at(s.start))
