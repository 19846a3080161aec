from __future__ import annotations

from pathlib import Path

import pytest

from rag.documents import decode_bytes, html_to_text, iter_files, load_document
from rag.errors import DocumentError

TEXT = "全省脱贫攻坚推进会在菏泽召开。\n刘家义讲话"


@pytest.mark.parametrize(
    "data",
    [TEXT.encode("utf-8"), b"\xef\xbb\xbf" + TEXT.encode("utf-8"), TEXT.encode("gbk"),
     TEXT.encode("gb18030"), TEXT.encode("utf-16")],
    ids=["utf8", "utf8-bom", "gbk", "gb18030", "utf16"],
)
def test_encodings_are_detected(data: bytes) -> None:
    assert decode_bytes(data) == TEXT


def test_binary_is_refused() -> None:
    with pytest.raises(DocumentError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))


def test_undecodable_is_refused() -> None:
    with pytest.raises(DocumentError, match="could not decode|binary"):
        decode_bytes(bytes(range(1, 32)) * 50)


def test_html_keeps_visible_text_only() -> None:
    page = ("<html><head><title>标题</title><style>p{color:red}</style></head><body>"
            "<p>第一段&amp;内容</p><script>alert(1)</script><div>第二段</div></body></html>")
    assert html_to_text(page) == "标题\n第一段&内容\n第二段"  # the title is kept


def test_load_document_variants(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(("\r\n" + TEXT + "\r\n").encode("gbk"))
    doc = load_document(tmp_path / "a.txt")
    assert doc.text == TEXT and len(doc.id) == 16
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    with pytest.raises(DocumentError, match="no text"):
        load_document(tmp_path / "empty.md")
    (tmp_path / "big.txt").write_text("字" * 100, encoding="utf-8")
    with pytest.raises(DocumentError, match="over the limit"):
        load_document(tmp_path / "big.txt", max_bytes=10)
    (tmp_path / "x.rtf").write_bytes(b"{\\rtf1 x}")
    with pytest.raises(DocumentError, match=r"unsupported file type \.rtf; supported: .*\.pdf"):
        load_document(tmp_path / "x.rtf")
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(DocumentError, match="x.pdf: not a readable PDF"):
        load_document(tmp_path / "x.pdf")


def test_iter_files_recurses_and_filters(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.txt", "sub/a.md", "sub/c.html", "d.bin", ".hidden.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    names = [p.name for p in iter_files([tmp_path])]
    assert names == ["b.txt", "a.md", "c.html"]
    with pytest.raises(DocumentError, match="no such file"):
        list(iter_files([tmp_path / "missing"]))
