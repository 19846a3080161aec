"""PDF, Word, PowerPoint, Excel and EPUB: text, locations, cleaning and bad files.

The files are written at test time (tests/office_files.py); each holds a fact no
other file has, and the end-to-end test asks for it and checks the cited location.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from rag.config import Config
from rag.documents import load_file
from rag.errors import DocumentError
from rag.formats.pdf import join_wrapped
from rag.index.builder import IndexBuilder
from rag.index.store import load_index
from rag.pipeline import Pipeline

from .office_files import make_docx, make_epub, make_pdf, make_pptx, make_xlsx

LONG = "全省脱贫攻坚推进会在菏泽召开，会议总结了上半年的工作进展并部署下一阶段"


def _pdf_pages() -> list[list[str]]:
    return [
        [LONG, "的重点任务，要求各地压实责任。"],
        ["烟台苹果的年产量是十二万吨，主要销往华东", "地区。"],
        ["第三页的内容与前两页不同。"],
    ]


def test_pdf_pages_are_cleaned_and_located(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "r.pdf", _pdf_pages(), header="山东省扶贫办 内部资料", footer_numbers=True)
    doc, notes = load_file(path)
    assert "内部资料" not in doc.text and "- 2 -" not in doc.text  # running header, page numbers
    assert LONG + "的重点任务" in doc.text  # the wrap inside Chinese text is joined, no space
    assert [loc.label for loc in doc.locations] == ["第1页", "第2页", "第3页"]
    at = doc.text.index("十二万吨")
    assert doc.location_at(at) == "第2页" and doc.location_at(0) == "第1页"
    assert notes == [] and doc.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_join_wrapped_keeps_latin_spaces_and_paragraphs() -> None:
    lines = ["The meeting was held in", "Heze on Monday, with", "many guests.", "短行。",
             "第二段开始于此处并且", "继续。"]
    assert join_wrapped(lines) == ("The meeting was held in Heze on Monday, with many guests.\n"
                                   "短行。\n第二段开始于此处并且继续。")
    assert join_wrapped([]) == ""


def test_scanned_pages_are_reported_not_dropped_silently(tmp_path: Path) -> None:
    doc, notes = load_file(make_pdf(tmp_path / "mixed.pdf", [["只有一页有文字。"]], blank_scans=2))
    assert doc.text == "只有一页有文字。"
    assert notes == ["mixed.pdf: 2 of 3 pages have no text layer (scanned); they were skipped"]
    with pytest.raises(DocumentError, match="all 2 pages are scans"):
        load_file(make_pdf(tmp_path / "scans.pdf", [], blank_scans=2))


def test_docx_keeps_heading_path_and_tables(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "m.docx", [("h1", "第一章 总则"), ("p", "本办法适用于全省。"),
                                           ("h2", "二、工作要求"), ("p", "各市要在六月底前完成自查。")],
                     table=[["城市", "人数"], ["济南", "120"]])
    doc, _ = load_file(path)
    assert doc.text.endswith("各市要在六月底前完成自查。\n城市：济南，人数：120")
    assert doc.location_at(doc.text.index("本办法")) == "第一章 总则"
    assert doc.location_at(doc.text.index("济南")) == "第一章 总则 › 二、工作要求"


def test_pptx_reads_slides_and_notes(tmp_path: Path) -> None:
    slides = [("汇报", "第一张", ""), ("进展", "完成率九成", "数据来自统计局")]
    doc, _ = load_file(make_pptx(tmp_path / "s.pptx", slides))
    assert "备注：数据来自统计局" in doc.text
    assert doc.location_at(doc.text.index("统计局")) == "第2张幻灯片"


def test_xlsx_rows_read_as_column_value_pairs(tmp_path: Path) -> None:
    rows = [["城市", "人口", "日期"], ["菏泽", 12000.0, None], [None, None, None],
            ["聊城", 8000, "2020-01-01"]]
    path = make_xlsx(tmp_path / "t.xlsx", {"汇总": rows, "空表": []})
    doc, _ = load_file(path)
    assert doc.text == "城市：菏泽，人口：12000\n城市：聊城，人口：8000，日期：2020-01-01"
    assert doc.location_at(doc.text.index("聊城")) == "工作表“汇总”第4行"


def test_epub_chapters_in_spine_order(tmp_path: Path) -> None:
    chapters = [("第一章 起源", "泰山脚下有一个村庄。"), ("第二章 发展", "后来修了路。")]
    doc, _ = load_file(make_epub(tmp_path / "b.epub", chapters))
    assert doc.text == "第一章 起源\n泰山脚下有一个村庄。\n第二章 发展\n后来修了路。"
    assert doc.location_at(doc.text.index("修了路")) == "第二章 发展"


@pytest.mark.parametrize("name, make, message", [
    ("locked.pdf", lambda p: make_pdf(p, [["机密。"]], encrypt="secret"), "encrypted with a password"),
    ("cut.pdf", lambda p: p.write_bytes(make_pdf(p, [["文字。"]]).read_bytes()[:300]), "not a readable PDF"),
    ("cut.docx", lambda p: p.write_bytes(make_docx(p, [("p", "文字。")]).read_bytes()[:500]),
     "not a readable Word"),
    ("photo.docx", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
     "not a readable Word"),
    ("bad.xlsx", lambda p: p.write_bytes(b"PK\x03\x04garbage"), "not a readable Excel"),
    ("old.doc", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100)), r"old binary format.*\.docx"),
    ("old.xls", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100)), r"save the file as \.xlsx"),
    ("old.ppt", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100)), r"\.pptx"),
    ("no-spine.epub", lambda p: p.write_bytes(make_pptx(p, [("a", "b", "")]).read_bytes()),
     "not a readable EPUB"),
])
def test_bad_files_get_a_clear_message(tmp_path: Path, name: str, make, message: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(DocumentError, match=message) as err:
        load_file(path)
    assert name in str(err.value)


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "big.pdf", [["文字。"]])
    with pytest.raises(DocumentError, match="over the limit"):
        load_file(path, max_bytes=100)


@pytest.fixture(scope="module")
def office_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file per format, each with its own fact, plus broken files that must not stop the build."""
    d = tmp_path_factory.mktemp("office") / "docs"
    d.mkdir()
    make_pdf(d / "报告.pdf", _pdf_pages(), header="山东省扶贫办 内部资料", footer_numbers=True)
    make_docx(d / "办法.docx", [("h1", "第一章 总则"), ("p", "本办法适用于全省各级扶贫部门。"),
                                ("h2", "二、工作要求"), ("p", "各市要在六月底前完成脱贫成效自查。")])
    make_pptx(d / "汇报.pptx", [("工作汇报", "今年的主要工作", ""),
                                ("进展情况", "易地扶贫搬迁完成率达到百分之九十五。", "数据来自省统计局。")])
    make_xlsx(d / "名单.xlsx", {"汇总": [["城市", "帮扶干部人数"], ["菏泽", 3200], ["聊城", 2100]]})
    make_epub(d / "村史.epub", [("第一章 起源", "泰山脚下的王家庄始建于明朝洪武年间。"),
                                ("第二章 发展", "王家庄在二〇一八年修通了柏油路。")])
    make_pdf(d / "加密.pdf", [["机密。"]], encrypt="secret")
    (d / "旧文件.doc").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    return d


def test_mixed_folder_builds_and_answers_with_locations(office_folder: Path, base_config: Config,
                                                       embedder, tmp_path: Path) -> None:
    config = base_config.replace(index={"root": str(tmp_path / "index"), "corpus": str(office_folder)},
                                 answer={"reader": None})
    report = IndexBuilder(config, embedder, dim=embedder.dim).build([office_folder])
    assert report.documents == 5
    assert sorted(Path(s).name for s, _ in report.skipped) == ["加密.pdf", "旧文件.doc"]
    pipeline = Pipeline(config, embedder=embedder)
    for question, fact, source, location in [
        ("烟台苹果的年产量是多少？", "十二万吨", "报告.pdf", "第2页"),
        ("各市要在什么时候前完成脱贫成效自查？", "六月底", "办法.docx", "第一章 总则 › 二、工作要求"),
        ("易地扶贫搬迁完成率达到了多少？", "百分之九十五", "汇报.pptx", "第2张幻灯片"),
        ("聊城的帮扶干部人数是多少？", "2100", "名单.xlsx", "工作表“汇总”第3行"),
        ("王家庄什么时候修通了柏油路？", "二〇一八年", "村史.epub", "第二章 发展"),
    ]:
        answer = pipeline.answer(question)
        cited = [c for c in answer.citations if fact in c.text]
        assert cited, (question, answer.text)
        assert Path(cited[0].source).name == source and cited[0].location == location
        doc = pipeline.index.documents[cited[0].doc_id]
        assert doc.text[cited[0].start:cited[0].end] == cited[0].text  # offsets index the extracted text


def test_rebuild_reuses_files_by_their_bytes(office_folder: Path, base_config: Config, embedder,
                                             tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(office_folder, folder)
    config = base_config.replace(index={"root": str(tmp_path / "index")})
    builder = IndexBuilder(config, embedder, dim=embedder.dim)
    builder.build([folder])
    (folder / "报告.pdf").rename(folder / "报告-改名.pdf")
    again = builder.build([folder])
    assert again.embedded_texts == 0 and len(again.reused) == 5
    index = load_index(builder.link)
    renamed = [d for d in index.documents.values() if d.source.endswith("报告-改名.pdf")]
    assert renamed and renamed[0].locations[1].label == "第2页"
    assert renamed[0].file_sha256 == hashlib.sha256((folder / "报告-改名.pdf").read_bytes()).hexdigest()
