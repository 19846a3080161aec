"""Readers for the file formats people keep documents in, one small module each.

Every reader turns a file's bytes into an `Extracted`: the text (built with an
`Assembler`, so it is already normalized and offsets into it are final), the
location of every block in the original ("第3页", "第2张幻灯片", …), and notes the
user should hear about (pages skipped because they are scans, for example).
A file that cannot be read raises DocumentError with a message naming it.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.errors import DocumentError
from rag.formats.assemble import Assembler, Extracted

TEXT_FORMATS = (".txt", ".md", ".markdown", ".html", ".htm")
BINARY_FORMATS = (".pdf", ".docx", ".pptx", ".xlsx", ".epub")
SUPPORTED = TEXT_FORMATS + BINARY_FORMATS

# Old binary Office formats: named, so the message can say what to convert them to.
OLD_FORMATS = {".doc": ".docx", ".ppt": ".pptx", ".xls": ".xlsx", ".wps": ".docx", ".et": ".xlsx"}


def reader_for(suffix: str) -> Callable[[bytes, str], Extracted]:
    """The function that reads files ending in `suffix` (one of BINARY_FORMATS)."""
    suffix = suffix.lower()
    if suffix == ".pdf":
        from rag.formats.pdf import read_pdf

        return read_pdf
    if suffix == ".docx":
        from rag.formats.word import read_docx

        return read_docx
    if suffix == ".pptx":
        from rag.formats.slides import read_pptx

        return read_pptx
    if suffix == ".xlsx":
        from rag.formats.sheets import read_xlsx

        return read_xlsx
    if suffix == ".epub":
        from rag.formats.epub import read_epub

        return read_epub
    if suffix in OLD_FORMATS:
        new = OLD_FORMATS[suffix]
        raise DocumentError(
            f"{suffix} is an old binary format that rag-zh does not read; save the file as {new} "
            f"(in Office or WPS: 另存为 {new}; or `soffice --headless --convert-to {new[1:]} FILE`)")
    raise DocumentError(f"unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED)}")


__all__ = ["Assembler", "BINARY_FORMATS", "Extracted", "OLD_FORMATS", "SUPPORTED", "TEXT_FORMATS",
           "reader_for"]
