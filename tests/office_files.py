"""Write small PDF, Word, PowerPoint, Excel and EPUB files at test time.

Each maker takes the text it should hold, so a test can plant a fact that only one
file has and then ask for it. PDFs use reportlab's built-in CID font STSong-Light,
which needs no font file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path


def make_pdf(path: Path, pages: list[list[str]], *, header: str | None = None, footer_numbers: bool = False,
             encrypt: str | None = None, blank_scans: int = 0) -> Path:
    """One page per item of `pages`, each a list of lines; optional running header and
    page-number footer; `blank_scans` extra pages holding only an image (a "scan")."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), encrypt=encrypt)
    for number, lines in enumerate(pages, start=1):
        c.setFont("STSong-Light", 11)
        if header:
            c.drawString(72, 800, header)
        y = 760
        for line in lines:
            c.drawString(72, y, line)
            y -= 18
        if footer_numbers:
            c.drawString(290, 40, f"- {number} -")
        c.showPage()
    for _ in range(blank_scans):
        c.drawImage(ImageReader(_png()), 72, 400, width=200, height=100)
        c.showPage()
    c.save()
    return path


def _png() -> object:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 200, 200)).save(buf, format="PNG")
    buf.seek(0)
    return buf


def make_docx(path: Path, blocks: list[tuple[str, str]], table: list[list[str]] | None = None) -> Path:
    """`blocks` of (style, text): style "h1", "h2" or "p"; an optional table at the end."""
    import docx

    document = docx.Document()
    for style, text in blocks:
        if style.startswith("h"):
            document.add_heading(text, level=int(style[1:]))
        else:
            document.add_paragraph(text)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for k, value in enumerate(row):
                t.cell(r, k).text = value
    document.save(str(path))
    return path


def make_pptx(path: Path, slides: list[tuple[str, str, str]]) -> Path:
    """`slides` of (title, body, notes)."""
    from pptx import Presentation

    deck = Presentation()
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(str(path))
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(str(path))
    return path


def make_epub(path: Path, chapters: list[tuple[str, str]]) -> Path:
    """`chapters` of (title, body text); a minimal EPUB 3."""
    items = "".join(f'<item id="c{i}" href="text/c{i}.xhtml" media-type="application/xhtml+xml"/>'
                    for i in range(len(chapters)))
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml",
                   '<?xml version="1.0"?><container version="1.0" '
                   'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                   '<rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>'
                   "</rootfiles></container>")
        z.writestr("OEBPS/book.opf",
                   '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
                   f"<metadata/><manifest>{items}</manifest><spine>{spine}</spine></package>")
        for i, (title, body) in enumerate(chapters):
            paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n"))
            z.writestr(f"OEBPS/text/c{i}.xhtml",
                       f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>'
                       f"<body><h1>{title}</h1>{paragraphs}</body></html>")
    return path
