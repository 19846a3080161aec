"""Rendering and upload handling of the page, without a browser."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import DocumentError
from rag.pipeline import Pipeline
from rag.types import Answer, Citation
from ui.documents import DocumentManager, safe_name
from ui.render import chat_text, sources_html

from .conftest import ARTICLE


def test_chat_text_links_known_markers_and_escapes_html() -> None:
    c = Citation(1, "d", "a.txt", 0, 3, "<b>", 1, 1)
    answer = Answer("q", "<b>[1][7]", False, [c])
    assert chat_text(answer.text, answer) == '&lt;b&gt;<a class="cite" href="#cite-1">[1]</a>[7]'


def test_short_answer_up_front_and_its_span_marked_in_the_source() -> None:
    sentence = "会议在<菏泽>召开。"
    c = Citation(1, "d", "a.txt", 10, 10 + len(sentence), sentence, 1, 1, span_start=13, span_end=17)
    answer = Answer("q", f"<菏泽>\n\n{sentence}[1]", False, [c], short="<菏泽>")
    html_text = chat_text(answer.text, answer)
    assert html_text.startswith('<strong class="short">&lt;菏泽&gt;</strong>')
    assert html_text.endswith('<a class="cite" href="#cite-1">[1]</a>')
    card = sources_html(answer, None)
    assert '<mark>会议在<b class="span">&lt;菏泽&gt;</b>召开。</mark>' in card


def test_sources_panel_for_refusal_and_nothing() -> None:
    assert "没有引用来源" in sources_html(Answer("q", "文中没有提到", True), None)
    assert "提问后" in sources_html(None, None)


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd.txt", "passwd.txt"), ("..\\..\\win.txt", "win.txt"),
    (".hidden.md", "hidden.md"), ("a<b>:c.txt", "a_b__c.txt"), ("", "document.txt"),
    ("新闻 稿.html", "新闻 稿.html"),
])
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.fixture
def manager(base_config: Config, embedder, tmp_path: Path) -> DocumentManager:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / "article.txt")
    config = base_config.replace(index={"root": str(tmp_path / "index"), "corpus": str(corpus),
                                        "uploads": str(tmp_path / "uploads")})
    return DocumentManager(Pipeline(config, embedder=embedder), max_bytes=10_000)


def test_upload_rejects_bad_files_and_keeps_the_index(manager: DocumentManager, tmp_path: Path) -> None:
    before = set(manager.pipeline.index.documents)
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "bin.txt").write_bytes(b"\x00\x01" * 100)
    (bad / "empty.txt").write_text("", "utf-8")
    (bad / "big.txt").write_text("大" * 10_000, "utf-8")
    (bad / "bad.txt").write_bytes(bytes(range(128, 256)) * 3)
    (bad / "x.exe").write_bytes(b"MZ")
    result = manager.add([str(p) for p in sorted(bad.iterdir())])
    assert result.added == [] and len(result.rejected) == 5
    assert set(manager.pipeline.index.documents) == before
    assert not (tmp_path / "uploads").exists() or manager.uploaded() == []


def test_upload_then_ask_then_remove(manager: DocumentManager, tmp_path: Path) -> None:
    src = tmp_path / "in" / "..evil.txt"
    src.parent.mkdir()
    src.write_text("趵突泉位于济南市历下区，被誉为天下第一泉。", "utf-8")
    assert len(manager.pipeline.index.documents) == 1  # the article, built on first use
    result = manager.add([str(src)])
    assert result.added == ["evil.txt"] and (tmp_path / "uploads" / "evil.txt").is_file()
    assert result.report is not None and [Path(a).name for a in result.report.added] == ["evil.txt"]
    answer = manager.pipeline.answer("趵突泉位于哪里？")
    assert "济南" in answer.text and Path(answer.citations[0].source).name == "evil.txt"
    manager.remove("evil.txt")
    assert manager.uploaded() == []
    assert all(Path(d.source).name != "evil.txt" for d in manager.pipeline.index.documents.values())
    with pytest.raises(DocumentError, match="not an uploaded document"):
        manager.remove("../corpus/article.txt")


def test_source_card_shows_the_sentence_in_trimmed_context(manager: DocumentManager) -> None:
    answer = manager.pipeline.answer("会议由谁主持？")
    html = sources_html(answer, manager.pipeline.index)
    c = answer.citations[0]
    assert f"<mark>{c.text}</mark>" in html and f"第{c.paragraph}段" in html
    assert html.count("…") >= 1  # long passages are cut around the sentence
