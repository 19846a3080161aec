"""Pure rendering: Answer -> one chat message holding the answer and its own sources. No Gradio.

Everything that comes from a document or a user goes through `literal`, so no
markdown or HTML in it is ever interpreted and nothing is fetched; the only markup
is ours: the short answer, citation chips, and the answer's source cards.

    <div class="answer" id="a3f9c1">
      <div class="short">菏泽</div>                      (when the reader gave a span)
      <div class="body">全省……召开。<a class="cite" href="#a3f9c1-1" title="…">1</a></div>
      <details class="sources" open><summary>来源 1</summary>
        <div class="source" id="a3f9c1-1">…<mark>cited sentence, <b class="span">span</b></mark>…</div>
      </details>
      <a class="copy" href="#a3f9c1">复制</a><span class="copy-text">plain text with [1]</span>
    </div>
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from rag.index.store import IndexData
from rag.types import MARKER, Answer, Citation

CONTEXT_CHARS = 80  # characters of the passage shown on each side of a cited sentence
# Characters markdown (or HTML) would read as syntax, as numeric entities they are only text:
# also ":" and "@" (no autolinks) and line breaks (no paragraph split, which ends our HTML block).
_SYNTAX = re.compile(r"[\\`*_{}\[\]()#+\-.!|~<>&\"'$:@\n\r]")


def literal(text: str) -> str:
    """`text` exactly as written, safe inside a markdown-rendered chat message."""
    return _SYNTAX.sub(lambda m: f"&#{ord(m.group(0))};", text)


def new_answer_id() -> str:
    return "a" + uuid.uuid4().hex[:8]


def user_html(question: str) -> str:
    shown = question if len(question) <= 300 else question[:300] + "…"
    return f'<div class="question">{literal(shown)}</div>'


def answer_html(text: str, answer: Answer, index: IndexData | None, aid: str, done: bool = True) -> str:
    """The (possibly partial) answer; when `done`, with its sources and a copy link."""
    if answer.refused:
        return (f'<div class="answer refused" id="{aid}"><span class="refusal-label">未找到依据</span>'
                f"{literal(text)}</div>")
    by_n = {c.n: c for c in answer.citations}

    def chip(n: int) -> str:
        c = by_n.get(n)
        if c is None:  # a marker without a citation stays text
            return literal(f"[{n}]")
        preview = literal(f"[{n}] {c.location + ' · ' if c.location else ''}{c.text}")  # also safe in ""
        return f'<a class="cite" href="#{aid}-{n}" title="{preview}">{n}</a>'

    def body(part: str) -> str:
        pieces = MARKER.split(part)  # text, n, text, n, …
        return "".join(chip(int(p)) if i % 2 else literal(p) for i, p in enumerate(pieces))

    short = ""
    rest = text
    if answer.short and text.startswith(answer.short):
        short = f'<div class="short">{literal(answer.short)}</div>'
        rest = text[len(answer.short):].lstrip("\n")
    parts = [f'<div class="answer" id="{aid}">', short, f'<div class="body">{body(rest)}</div>']
    if done and answer.citations:
        cards = "".join(_card(c, index, aid) for c in answer.citations)
        parts.append(f'<details class="sources" open><summary>来源 {len(answer.citations)}</summary>'
                     f"{cards}</details>")
    if done:
        # the page's sanitizer drops data-* attributes: the text to copy rides in a hidden span
        parts.append(f'<a class="copy" href="#{aid}">复制</a>'
                     f'<span class="copy-text">{literal(copy_text(answer))}</span>')
    parts.append("</div>")
    return "".join(parts)


def copy_text(answer: Answer) -> str:
    """The answer as plain text with [n], then its sources, as a person would paste it."""
    lines = [answer.text]
    for c in answer.citations:
        where = f" {c.location}" if c.location else ""
        lines.append(f"[{c.n}] {Path(c.source).name}{where}：{c.text}")
    return "\n".join(lines)


def _card(c: Citation, index: IndexData | None, aid: str) -> str:
    name = literal(Path(c.source).name)
    before, after = "", ""
    chunk = _chunk(index, c.chunk_id)
    if chunk is not None and chunk.start <= c.start and c.end <= chunk.end:
        before = chunk.text[: c.start - chunk.start]
        after = chunk.text[c.end - chunk.start :]
        # enough context to read the sentence in place, not the whole chunk
        before = before if len(before) <= CONTEXT_CHARS else "…" + before[-CONTEXT_CHARS:]
        after = after if len(after) <= CONTEXT_CHARS else after[:CONTEXT_CHARS] + "…"
    where = f"第{c.paragraph}段 · 第{c.sentence}句"
    if c.location:  # page, slide, sheet and row, heading path or chapter in the original file
        where = f"{literal(c.location)} · {where}"
    return (f'<div class="source" id="{aid}-{c.n}"><div class="head"><span class="num">{c.n}</span> '
            f'<b>{name}</b> <span class="where">{where}</span></div>'
            f'<div class="passage">{literal(before)}<mark>{_sentence(c)}</mark>{literal(after)}</div></div>')


def _sentence(c: Citation) -> str:
    """The cited sentence, with the reader's span inside it in bold when there is one."""
    if c.span_start is None or c.span_end is None:
        return literal(c.text)
    a, b = c.span_start - c.start, c.span_end - c.start
    return literal(c.text[:a]) + f'<b class="span">{literal(c.text[a:b])}</b>' + literal(c.text[b:])


def _chunk(index: IndexData | None, chunk_id: str):
    if index is None or not chunk_id:
        return None
    by_id = getattr(index, "_chunks_by_id", None)
    if by_id is None:
        by_id = {c.id: c for c in index.chunks}
        index._chunks_by_id = by_id  # type: ignore[attr-defined]
    return by_id.get(chunk_id)


def document_rows(index: IndexData | None) -> list[list[object]]:
    if index is None:
        return []
    counts: dict[str, int] = {}
    for chunk in index.chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    return [[Path(d.source).name, len(d.text), counts.get(d.id, 0), d.id[:8]]
            for d in index.documents.values()]
