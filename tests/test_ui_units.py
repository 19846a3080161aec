"""Rendering and upload handling of the page, without a browser."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from rag import errors
from rag.config import Config
from rag.errors import DocumentError
from rag.pipeline import Pipeline
from rag.types import Answer, Citation
from ui.documents import DocumentManager, safe_name
from ui.messages import zh_error, zh_note, zh_reason
from ui.render import answer_html, copy_text, literal, user_html

from .conftest import ARTICLE


def test_answer_chips_link_to_this_answers_own_sources() -> None:
    c = Citation(1, "d", "a.txt", 0, 3, "<b>", 1, 1)
    answer = Answer("q", "<b>[1][7]", False, [c])
    out = answer_html(answer.text, answer, None, "a00000001")
    assert '<div class="body">&#60;b&#62;<a class="cite" href="#a00000001-1" title=' in out
    assert "&#91;7&#93;" in out  # a marker without a citation stays text
    assert '<div class="source" id="a00000001-1">' in out and "<mark>&#60;b&#62;</mark>" in out
    other = answer_html(answer.text, answer, None, "a00000002")
    assert 'href="#a00000002-1"' in other and "a00000001" not in other  # ids never collide


def test_short_answer_up_front_and_its_span_marked_in_the_source() -> None:
    sentence = "会议在<菏泽>召开。"
    c = Citation(1, "d", "a.txt", 10, 10 + len(sentence), sentence, 1, 1, span_start=13, span_end=17,
                 location="第3页")
    answer = Answer("q", f"<菏泽>\n\n{sentence}[1]", False, [c], short="<菏泽>")
    out = answer_html(answer.text, answer, None, "a00000001")
    assert '<div class="short">&#60;菏泽&#62;</div><div class="body">会议在' in out
    assert '<mark>会议在<b class="span">&#60;菏泽&#62;</b>召开。</mark>' in out
    assert "第3页 · 第1段" in out and 'title="&#91;1&#93; 第3页 · 会议在&#60;菏泽&#62;召开。"' in out


def test_document_markup_and_user_markup_stay_literal() -> None:
    text = "**王小明** `李四` [链接](http://x.cn) ![图](http://x.cn/a.png) # 标题 <script>alert(1)</script>"
    c = Citation(1, "d", "a.txt", 0, len(text), text, 1, 1)
    out = answer_html(f"{text}[1]", Answer("q", f"{text}[1]", False, [c]), None, "a00000001")
    for syntax in ("**", "`", "](", "![", "<script", "# "):
        assert syntax not in out.replace('<a class="cite"', "")
    assert literal(text).count("&#") > 20 and "<" not in literal(text)
    assert "<script" not in user_html("<script>alert(1)</script>") and "&#60;script" in user_html("<script>")


def test_refusal_reads_clearly_and_copy_is_plain_text() -> None:
    no = "文档中没有提到这一点。"
    refused = answer_html(no, Answer("q", no, True), None, "a00000001")
    assert 'class="answer refused"' in refused and "未找到依据" in refused
    c = Citation(1, "d", "dir/a.txt", 0, 4, "会议召开", 1, 1, location="第2页")
    answer = Answer("q", "会议召开[1]", False, [c])
    assert copy_text(answer) == "会议召开[1]\n[1] a.txt 第2页：会议召开"
    assert f'<span class="copy-text">{literal(copy_text(answer))}</span>' in answer_html(answer.text, answer,
                                                                                        None, "a1")


def test_upload_messages_are_chinese_and_name_the_file_once() -> None:
    assert zh_reason("x.pdf", "x.pdf: the PDF is encrypted with a password; save…") == (
        "PDF 有密码保护，请先另存为没有密码的副本")
    assert zh_reason("a.doc", "a.doc: .doc is an old binary format …; save the file as .docx (…)") == (
        "这是旧版二进制格式，请先另存为 .docx 再上传")
    assert "x.pdf" not in zh_reason("x.pdf", "x.pdf: not a readable PDF (damaged)")
    assert zh_note("r.pdf: 2 of 9 pages have no text layer (scanned); they were skipped") == (
        "r.pdf：有 2 页（共 9 页）是扫描图片，没有文字层，已跳过")


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
    out = answer_html(answer.text, answer, manager.pipeline.index, "a00000001")
    c = answer.citations[0]
    unbolded = re.sub(r"</?b[^>]*>", "", out)  # the reader's span is bold inside the mark
    assert f"<mark>{literal(c.text)}</mark>" in unbolded and f"第{c.paragraph}段" in out
    assert out.count("…") >= 1  # long passages are cut around the sentence


def test_every_answering_error_reads_in_chinese() -> None:
    from rag.question.checks import check_question

    with pytest.raises(errors.InvalidQuestionError) as too_long:
        check_question("问" * 600, 500)
    assert zh_error(too_long.value) == "问题太长了（600 字），请控制在 500 字以内。"
    with pytest.raises(errors.InvalidQuestionError) as empty:
        check_question("\x00\x01", 500)
    assert zh_error(empty.value) == "问题里没有可以读的文字，请换个问法。"
    kinds = [c for c in vars(errors).values()
             if isinstance(c, type) and issubclass(c, errors.RagError)] + [KeyError, OSError]
    for kind in kinds:
        message = zh_error(kind("some English detail"))
        assert "English" not in message and re.search(r"[\u4e00-\u9fff]{4}", message), (kind, message)
    assert "rag index build" in zh_error(errors.IndexCorruptError("index/default: bad manifest"))
