"""Load files into Documents: text formats here, PDF/Office/EPUB through rag.formats.

Text files are decoded by trying UTF-8 (with or without BOM) -> GB18030 (a superset
of GBK and GB2312) -> UTF-16 with BOM -> charset-normalizer's best guess. Binary,
undecodable, empty, oversized, damaged and old-format files raise DocumentError.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

from rag.errors import DocumentError
from rag.formats import OLD_FORMATS, SUPPORTED, TEXT_FORMATS, reader_for
from rag.types import Document


def decode_bytes(data: bytes, name: str = "<bytes>") -> str:
    """Bytes -> str, or DocumentError naming the file and why."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{name}: looks like a binary file (contains NUL bytes)")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and _looks_like_text(str(best)):
        return str(best)
    raise DocumentError(f"{name}: could not decode as UTF-8, GB18030/GBK or any known encoding")


def _looks_like_text(text: str) -> bool:
    """Reject decodings full of control characters (a sign of binary data)."""
    if not text:
        return True
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls / min(len(text), 8192) < 0.01


class _TextExtractor(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
             "article", "title", "blockquote", "pre", "table", "ul", "ol", "header", "footer"}
    SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP and tag != "head":
            self.skipping += 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and tag != "head" and self.skipping:
            self.skipping -= 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page, one block per line (title kept)."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts))
    lines = (re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def normalize_text(text: str) -> str:
    """Line endings to \\n and no trailing whitespace at the ends; offsets refer to this."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def load_document(path: Path, *, source: str | None = None, max_bytes: int = 50_000_000) -> Document:
    return load_file(path, source=source, max_bytes=max_bytes)[0]


def load_file(path: Path, *, source: str | None = None,
              max_bytes: int = 50_000_000) -> tuple[Document, list[str]]:
    """The file as a Document, and notes for the user (pages skipped as scans, …)."""
    return parse_file(read_file_bytes(path, max_bytes), path, source=source)


def read_file_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of a file of a supported type within the size limit, or DocumentError."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED and suffix not in OLD_FORMATS:
        raise DocumentError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; supported: {', '.join(SUPPORTED)}"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"{path.name}: {size} bytes is over the limit of {max_bytes} bytes")
    return path.read_bytes()


def parse_file(data: bytes, path: Path, *, source: str | None = None,
               digest: str | None = None) -> tuple[Document, list[str]]:
    """`data`, the bytes of `path` (its name says the format), as a Document and notes."""
    suffix = path.suffix.lower()
    digest = digest or hashlib.sha256(data).hexdigest()
    if suffix in TEXT_FORMATS:
        text = decode_bytes(data, path.name)
        if suffix in (".html", ".htm"):
            text = html_to_text(text)
        text = normalize_text(text)
        if not text:
            raise DocumentError(f"{path.name}: the file holds no text")
        return Document.from_text(text, source or str(path), file_sha256=digest), []
    try:
        read = reader_for(suffix)
    except DocumentError as exc:
        raise DocumentError(f"{path.name}: {exc}") from None
    extracted = read(data, path.name)
    return (Document.from_text(extracted.text, source or str(path), extracted.locations, digest),
            extracted.notes)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under `paths` (recursing into folders), supported types only, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in (*SUPPORTED, *OLD_FORMATS)
                and not p.name.startswith(".")
            )
        elif path.is_file():
            yield path
        else:
            raise DocumentError(f"{path}: no such file or folder")
