"""EPUB: each chapter of the spine, read as HTML, cited by the chapter's title.

Standard library only: the container names the package file (OPF), whose manifest
and spine give the chapters in reading order. A chapter is cited by its first
heading, else its <title>, else 第N章.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from xml.etree import ElementTree

from rag.documents import decode_bytes, html_to_text
from rag.errors import DocumentError
from rag.formats.assemble import Assembler, Extracted, open_zip

_HEADING = re.compile(r"<(h[1-3]|title)\b[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL)


def read_epub(data: bytes, name: str) -> Extracted:
    archive = open_zip(data, name, "EPUB")
    try:
        chapters = spine(archive)
        out = Assembler()
        for number, path in enumerate(chapters, start=1):
            markup = decode_bytes(archive.read(path), f"{name}:{path}")
            text = html_to_text(markup)
            out.add(_without_title_line(text, markup), chapter_title(markup) or f"第{number}章")
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, EOFError) as exc:
        raise DocumentError(f"{name}: not a readable EPUB ({type(exc).__name__}: {exc})") from exc
    if not out.locations:
        raise DocumentError(f"{name}: the book holds no text")
    return out.extracted()


def spine(archive: zipfile.ZipFile) -> list[str]:
    """Paths of the chapters in reading order."""
    container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
    rootfile = next(e for e in container.iter() if e.tag.endswith("rootfile"))
    opf_path = rootfile.attrib["full-path"]
    opf = ElementTree.fromstring(archive.read(opf_path))
    base = posixpath.dirname(opf_path)
    items = {e.attrib["id"]: e.attrib for e in opf.iter() if e.tag.endswith("item")}
    order = [e.attrib["idref"] for e in opf.iter() if e.tag.endswith("itemref")]
    paths = []
    for idref in order:
        item = items[idref]
        if "html" in item.get("media-type", ""):
            paths.append(posixpath.normpath(posixpath.join(base, item["href"].split("#")[0])))
    return paths


def chapter_title(markup: str) -> str:
    found = {m.group(1).lower(): html_to_text(m.group(2)) for m in reversed(list(_HEADING.finditer(markup)))}
    for tag in ("h1", "h2", "h3", "title"):
        if found.get(tag):
            return found[tag].replace("\n", " ")
    return ""


def _without_title_line(text: str, markup: str) -> str:
    """html_to_text keeps <title>; a chapter's <title> repeated above its heading is noise."""
    m = re.search(r"<title\b[^>]*>(.*?)</title>", markup, re.IGNORECASE | re.DOTALL)
    title = html_to_text(m.group(1)) if m else ""
    first, _, rest = text.partition("\n")
    return rest if title and first == title and rest else text
