"""Pure rendering: Answer -> chat markdown and the sources panel HTML. No Gradio here."""

from __future__ import annotations

import html
import re
from pathlib import Path

from rag.index.store import IndexData
from rag.types import MARKER, Answer, Citation

CONTEXT_CHARS = 80  # characters of the passage shown on each side of a cited sentence


def chat_text(text: str, answer: Answer) -> str:
    """The (possibly partial) answer with each [n] as a link to its source card."""
    if answer.refused:
        return f'<span class="refusal">{html.escape(text)}</span>'
    known = {c.n for c in answer.citations}

    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f'<a class="cite" href="#cite-{n}">[{n}]</a>' if n in known else m.group(0)

    if answer.short and text.startswith(answer.short):  # the reader's short answer, up front
        rest = MARKER.sub(link, html.escape(text[len(answer.short):]))
        return f'<strong class="short">{html.escape(answer.short)}</strong>{rest}'
    return MARKER.sub(link, html.escape(text))


def sources_html(answer: Answer | None, index: IndexData | None) -> str:
    """One card per citation: document, position, and the passage with the sentence marked."""
    if answer is None:
        return '<div class="sources-empty">提问后，答案引用的原文会显示在这里。</div>'
    if answer.refused:
        return ('<div class="sources-refused">未找到依据：文档中没有能回答这个问题的内容，'
                "因此没有引用来源。</div>")
    cards = [_card(c, index) for c in answer.citations]
    return '<div class="sources">' + "".join(cards) + "</div>"


def _card(c: Citation, index: IndexData | None) -> str:
    name = html.escape(Path(c.source).name)
    before, after = "", ""
    chunk = _chunk(index, c.chunk_id)
    if chunk is not None and chunk.start <= c.start and c.end <= chunk.end:
        before = chunk.text[: c.start - chunk.start]
        after = chunk.text[c.end - chunk.start :]
        # enough context to read the sentence in place, not the whole chunk
        before = before if len(before) <= CONTEXT_CHARS else "…" + before[-CONTEXT_CHARS:]
        after = after if len(after) <= CONTEXT_CHARS else after[:CONTEXT_CHARS] + "…"
    where = f"第{c.paragraph}段 · 第{c.sentence}句 · 字符 {c.start}–{c.end}"
    if c.location:  # page, slide, sheet and row, heading path or chapter in the original file
        where = f"{html.escape(c.location)} · {where}"
    return (
        f'<details class="source" id="cite-{c.n}" open>'
        f'<summary><span class="num">[{c.n}]</span> <b>{name}</b> '
        f'<span class="where">{where}</span></summary>'
        f'<div class="passage">{html.escape(before)}<mark>{_sentence(c)}</mark>'
        f"{html.escape(after)}</div></details>"
    )


def _sentence(c: Citation) -> str:
    """The cited sentence, with the reader's span inside it in bold when there is one."""
    if c.span_start is None or c.span_end is None:
        return html.escape(c.text)
    a, b = c.span_start - c.start, c.span_end - c.start
    return (html.escape(c.text[:a]) + f'<b class="span">{html.escape(c.text[a:b])}</b>'
            + html.escape(c.text[b:]))


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


CSS = """
.sources details.source { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 6px 10px; margin-bottom: 8px; }
.sources details.source:target { outline: 2px solid var(--color-accent); }
.sources .num { font-weight: 700; color: var(--color-accent); }
.sources .where { color: var(--body-text-color-subdued); font-size: 0.85em; margin-left: 4px; }
.sources .passage { line-height: 1.7; margin-top: 6px; word-break: break-all; white-space: pre-wrap; }
.sources mark { background: #ffe58f; padding: 1px 2px; border-radius: 3px; }
.sources-refused, .sources-empty { color: var(--body-text-color-subdued); padding: 8px; }
a.cite { text-decoration: none; font-weight: 600; }
.refusal { color: var(--body-text-color-subdued); font-style: italic; }
"""
