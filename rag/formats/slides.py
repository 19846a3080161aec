"""PowerPoint .pptx: the text of each slide, notes included (python-pptx), cited as 第N张幻灯片."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from rag.errors import DocumentError
from rag.formats.assemble import Assembler, Extracted, open_zip
from rag.formats.word import table_text


def read_pptx(data: bytes, name: str) -> Extracted:
    from pptx import Presentation

    open_zip(data, name, "PowerPoint (.pptx)")
    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises KeyError, ValueError, lxml errors, …
        raise DocumentError(f"{name}: not a readable .pptx file ({type(exc).__name__}: {exc})") from exc
    out = Assembler()
    for number, slide in enumerate(deck.slides, start=1):
        parts = [text for shape in slide.shapes for text in _texts(shape)]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                parts.append(f"备注：{notes.text.strip()}")
        out.add("\n".join(parts), f"第{number}张幻灯片")
    if not out.locations:
        raise DocumentError(f"{name}: the presentation holds no text")
    return out.extracted()


def _texts(shape: Any) -> Iterator[str]:
    """Text of a shape: its text frame, its table, or the shapes of a group, in order."""
    if getattr(shape, "shape_type", None) is not None and hasattr(shape, "shapes"):  # a group
        for inner in shape.shapes:
            yield from _texts(inner)
    if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
        yield shape.text_frame.text
    if getattr(shape, "has_table", False):
        yield table_text([[cell.text for cell in row.cells] for row in shape.table.rows])
