"""PDF: the text layer of each page (pypdfium2), cleaned, cited as 第N页.

1. Open the file; an encrypted one is tried with the empty password, then refused.
2. Take each page's text layer as lines. A page without one is a scan (it has
   images) or blank; scans are counted and reported, never dropped silently.
3. Drop running headers and footers: lines at a page's top or bottom that repeat
   (digits aside) on at least half of the pages, and bare page numbers.
4. Join the line wraps of a paragraph: Chinese joins without a space, Latin words
   with one. A line ends its paragraph when it ends a sentence or is short.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from rag.errors import DocumentError
from rag.formats.assemble import Assembler, Extracted

_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(?:第\s*)?\d+\s*(?:页)?(?:\s*[/／]\s*\d+)?(?:\s*页)?[-–—\s]*$|^page\s+\d+(\s+of\s+\d+)?$",
    re.IGNORECASE)
_ENDS_PARAGRAPH = tuple("。！？!?；;：:…”」』")
_EDGE_LINES = 2  # lines at the top and at the bottom of a page that may be a header or footer


def read_pdf(data: bytes, name: str) -> Extracted:
    import pypdfium2 as pdfium

    pdf = _open(pdfium, data, name)
    try:
        pages: list[list[str]] = []
        scanned = 0
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            raw = textpage.get_text_range()
            lines = [s for s in (line.strip() for line in re.split(r"\r\n|\r|\n", raw)) if s]
            if not lines and _has_images(pdfium, page):
                scanned += 1
            textpage.close()
            page.close()
            pages.append(lines)
    finally:
        pdf.close()
    repeated = _running_lines(pages)
    out = Assembler()
    for number, lines in enumerate(pages, start=1):
        body = [line for k, line in enumerate(lines) if not _is_furniture(line, k, len(lines), repeated)]
        out.add(join_wrapped(body), f"第{number}页")
    notes = []
    if scanned:
        notes.append(f"{name}: {scanned} of {len(pages)} pages have no text layer (scanned); "
                     "they were skipped")
    if not out.locations:
        if scanned:
            raise DocumentError(f"{name}: all {len(pages)} pages are scans without a text layer; "
                                "rag-zh does not run OCR, so nothing could be read")
        raise DocumentError(f"{name}: the PDF holds no text")
    return out.extracted(notes)


def _open(pdfium: object, data: bytes, name: str) -> object:
    error = None
    for password in (None, ""):
        try:
            return pdfium.PdfDocument(data, password=password)  # type: ignore[attr-defined]
        except pdfium.PdfiumError as exc:  # type: ignore[attr-defined]
            error = exc
    message = str(error)
    if "password" in message.lower():
        raise DocumentError(f"{name}: the PDF is encrypted with a password; save an unencrypted copy "
                            "and add that")
    raise DocumentError(f"{name}: not a readable PDF (damaged, truncated or not a PDF: {message})")


def _has_images(pdfium: object, page: object) -> bool:
    image = pdfium.raw.FPDF_PAGEOBJ_IMAGE  # type: ignore[attr-defined]
    return any(obj.type == image for obj in page.get_objects())  # type: ignore[attr-defined]


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line)


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Shapes of edge lines repeated on at least half of the pages (3 pages or more)."""
    if len(pages) < 3:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        edges = lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]
        seen.update({_shape(line) for line in edges})
    return {shape for shape, n in seen.items() if n >= max(2, len(pages) / 2)}


def _is_furniture(line: str, k: int, n: int, repeated: set[str]) -> bool:
    at_edge = k < _EDGE_LINES or k >= n - _EDGE_LINES
    return at_edge and (bool(_PAGE_NUMBER.match(line)) or _shape(line) in repeated)


def join_wrapped(lines: list[str]) -> str:
    """Lines of one page -> paragraphs, one per line, with the wraps inside them joined."""
    if not lines:
        return ""
    widths = sorted(_width(line) for line in lines)
    full = widths[int(len(widths) * 0.8)]  # the width of a full line on this page
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not current:
            current = line
        elif current[-1].isascii() and current[-1].isalnum() and line[0].isascii() and line[0].isalnum():
            current += " " + line
        else:
            current += line
        if line.endswith(_ENDS_PARAGRAPH) or _width(line) < 0.7 * full:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n".join(paragraphs)


def _width(line: str) -> int:
    """Printed width: a Chinese character is as wide as two Latin ones."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
