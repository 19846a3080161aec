"""Word .docx: headings, paragraphs and tables in document order (python-docx).

Each block is cited by its heading path, "第一章 › 二、工作要求". Headings are
paragraphs in a Heading/标题/Title style; a table's rows read "列名：值，列名：值",
with its first row as the column names.
"""

from __future__ import annotations

import io
import re

from rag.errors import DocumentError
from rag.formats.assemble import Assembler, Extracted, open_zip

SEPARATOR = " › "
_LEVEL = re.compile(r"(?:heading|标题)\s*(\d)", re.IGNORECASE)


def read_docx(data: bytes, name: str) -> Extracted:
    import docx
    from docx.table import Table

    open_zip(data, name, "Word (.docx)")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors, …
        raise DocumentError(f"{name}: not a readable .docx file ({type(exc).__name__}: {exc})") from exc
    out = Assembler()
    path: list[tuple[int, str]] = []  # (level, heading text) of the headings above
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            out.add(table_text([[cell.text for cell in row.cells] for row in block.rows]), _label(path))
            continue
        text = block.text.strip()
        level = heading_level(block.style.name if block.style is not None else "")
        if level and text:
            path = [(lv, t) for lv, t in path if lv < level] + [(level, text)]
        out.add(text, _label(path))
    if not out.locations:
        raise DocumentError(f"{name}: the document holds no text")
    return out.extracted()


def heading_level(style: str) -> int:
    """1.. for heading styles ("Heading 2", "标题 2", "Title" = 1), 0 for body text."""
    if style.lower() in ("title", "标题"):
        return 1
    m = _LEVEL.search(style)
    return int(m.group(1)) if m else 0


def table_text(rows: list[list[str]]) -> str:
    """Rows after the first as "列名：值，…" lines (merged cells counted once)."""
    rows = [_dedupe([c.strip() for c in row]) for row in rows]
    rows = [r for r in rows if any(r)]
    if len(rows) < 2:
        return "\n".join("，".join(c for c in r if c) for r in rows)
    header, lines = rows[0], []
    for row in rows[1:]:
        pairs = [f"{header[i]}：{v}" if i < len(header) and header[i] else v for i, v in enumerate(row) if v]
        lines.append("，".join(pairs))
    return "\n".join(lines)


def _dedupe(cells: list[str]) -> list[str]:
    out: list[str] = []
    for c in cells:
        out.append("" if out and c and c == out[-1] else c)
    return out


def _label(path: list[tuple[int, str]]) -> str:
    return SEPARATOR.join(t for _, t in path)
