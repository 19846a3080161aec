"""Nothing lost, nothing half-used: additive builds, careful removal, self-repair.

Each test is one case from the fault list of issue #12, run through the CLI (click's
CliRunner) or the Python API on a real index of small documents.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.config import Config
from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.index.workdir import build_lock
from rag.pipeline import Pipeline

from .conftest import ARTICLE

FACTS = {"west.txt": "西湖位于浙江省杭州市西部。", "lake.txt": "大明湖位于济南市历城区。",
         "tower.txt": "东方明珠电视塔位于上海市浦东新区。"}


@pytest.fixture
def home(cfg: Path) -> Path:
    """The folder of conftest's `cfg` (rag.yaml, the article as corpus), with three more files in more/."""
    more = cfg.parent / "more"
    more.mkdir()
    for name, text in FACTS.items():
        (more / name).write_text(text, encoding="utf-8")
    return cfg.parent


def rag(home: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(main, ["--config", str(home / "rag.yaml"), *args], input=input)


def indexed(home: Path) -> str:
    return rag(home, "index", "status").output


def test_a_build_of_one_file_keeps_the_others(home: Path) -> None:
    assert rag(home, "index", "build", str(home / "corpus"), str(home / "more")).exit_code == 0
    (home / "more" / "west.txt").write_text("西湖位于杭州市，面积约六平方千米。", encoding="utf-8")
    out = rag(home, "index", "build", str(home / "more" / "west.txt"))
    assert out.exit_code == 0 and "kept 3 from elsewhere" in out.output and "removed 0" in out.output
    status = indexed(home)
    assert "4 documents" in status and "lake.txt" in status and ARTICLE.name in status
    synced = rag(home, "index", "build", "--sync", str(home / "more"))
    assert "removed (--sync): " in synced.output and ARTICLE.name in synced.output
    assert "3 documents" in indexed(home)


def test_an_upload_keeps_documents_added_from_the_cli(home: Path, embedder) -> None:
    from ui.documents import DocumentManager

    assert rag(home, "index", "build", str(home / "corpus"), str(home / "more" / "lake.txt")).exit_code == 0
    pipeline = Pipeline(Config.load(home / "rag.yaml", env=False), embedder=embedder)
    docs = DocumentManager(pipeline, 1_000_000)
    (home / "new.txt").write_text("趵突泉位于济南市历下区。", encoding="utf-8")
    docs.add([str(home / "new.txt")])
    sources = {Path(d.source).name for d in pipeline.index.documents.values()}
    assert sources == {ARTICLE.name, "lake.txt", "new.txt"}
    docs.remove("new.txt")  # and deleting an upload removes only it
    assert {Path(d.source).name for d in pipeline.index.documents.values()} == {ARTICLE.name, "lake.txt"}


def test_a_lost_index_is_not_replaced_by_the_bundled_article(home: Path) -> None:
    assert rag(home, "index", "build", str(home / "corpus"), str(home / "more")).exit_code == 0
    link = home / "index" / "default"
    shutil.rmtree(link.resolve())
    link.unlink()
    out = rag(home, "ask", "西湖位于哪里？")
    assert out.exit_code == 1 and "outside the default folders" in out.output and "west.txt" in out.output
    assert not link.exists()  # nothing was built in its place


def test_an_interrupted_build_is_not_swept_away_by_ask(home: Path) -> None:
    resume = home / "index" / ".resume-default-0123456789ab"
    resume.mkdir(parents=True)
    (resume / "doc.npz").write_bytes(b"vectors")
    out = rag(home, "ask", "西湖位于哪里？")
    assert out.exit_code == 1 and "interrupted build" in out.output
    assert (resume / "doc.npz").exists()


def test_remove_needs_an_exact_name_or_a_long_unique_prefix(home: Path) -> None:
    assert rag(home, "index", "build", str(home / "corpus"), str(home / "more")).exit_code == 0
    short = rag(home, "index", "remove", "a")
    assert short.exit_code == 2 and "at least 6 characters" in short.output
    assert "4 documents" in indexed(home)
    declined = rag(home, "index", "remove", "west.txt", "lake.txt", input="n\n")
    assert declined.exit_code == 1 and "remove these 2 documents?" in declined.output
    assert "4 documents" in indexed(home)
    assert "removed 2 document(s)" in rag(home, "index", "remove", "west.txt", "lake.txt", "--yes").output
    assert "2 documents" in indexed(home)


def test_remove_all_refuses_names_and_waits_for_no_build(home: Path) -> None:
    assert rag(home, "index", "build").exit_code == 0
    named = rag(home, "index", "remove", "--all", "doc.txt")
    assert named.exit_code == 2 and "takes no names" in named.output
    with build_lock(home / "index" / "default"):
        busy = rag(home, "index", "remove", "--all")
    assert busy.exit_code == 1 and "another build" in busy.output
    assert "1 documents" in indexed(home)


@pytest.mark.parametrize("name", ["vectors.npz", "dense.faiss", "documents.jsonl", "sentences.jsonl",
                                  "chunks.jsonl", "manifest.json", "bm25"])
def test_each_damaged_file_is_named_then_repaired_by_build(home: Path, name: str) -> None:
    assert rag(home, "index", "build", str(home / "corpus"), str(home / "more")).exit_code == 0
    target = home / "index" / "default" / name
    for path in sorted(target.rglob("*")) if target.is_dir() else [target]:
        if path.is_file():
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # truncated
    asked = rag(home, "ask", "西湖位于哪里？")
    assert asked.exit_code == 1 and name in asked.output and "Traceback" not in asked.output
    status = rag(home, "index", "status")
    assert status.exit_code == 1 and name in status.output
    built = rag(home, "index", "build")
    assert built.exit_code == 0, built.output
    assert "4 documents" in indexed(home) and rag(home, "index", "status").exit_code == 0
    assert "杭州" in rag(home, "ask", "西湖位于哪里？").output  # the document outside the corpus is back


def test_empty_files_and_missing_manifest_keys_get_clear_errors(home: Path) -> None:
    from rag.index.store import load_index

    assert rag(home, "index", "build").exit_code == 0
    folder = home / "index" / "default"
    (folder / "vectors.npz").write_bytes(b"")
    with pytest.raises(IndexCorruptError, match=r"vectors\.npz.*EOFError|vectors\.npz.*damaged"):
        load_index(folder)
    (folder / "manifest.json").write_text('{"format": "rag-zh-index", "version": 1}', "utf-8")
    with pytest.raises(IndexCorruptError, match="lacks embedding, chunker, lexical, documents"):
        load_index(folder)
    shutil.rmtree(home / "index")
    with pytest.raises(IndexNotFoundError):
        load_index(folder)


def test_changed_settings_are_named_and_redo_only_what_they_must(home: Path) -> None:
    assert rag(home, "index", "build").exit_code == 0
    env = {"RAG_INDEX__LEXICAL_TOKENIZER": "bigram"}
    status = CliRunner().invoke(main, ["--config", str(home / "rag.yaml"), "index", "status"], env=env)
    assert "warning: lexical changed" in status.output and "index files only" in status.output
    built = CliRunner().invoke(main, ["--config", str(home / "rag.yaml"), "index", "build"], env=env)
    assert "0 texts" in built.output and "reused 1" in built.output, built.output
    env = {"RAG_EMBEDDING__PASSAGE_PROMPT": "passage: 文档："}
    status = CliRunner().invoke(main, ["--config", str(home / "rag.yaml"), "index", "status"], env=env)
    assert "embedding.passage_prompt changed" in status.output and "re-embeds every document" in status.output
    asked = CliRunner().invoke(main, ["--config", str(home / "rag.yaml"), "ask", "会议由谁主持？"], env=env)
    assert asked.exit_code == 1 and "passage_prompt" in asked.output
    built = CliRunner().invoke(main, ["--config", str(home / "rag.yaml"), "index", "build"], env=env)
    assert "embedded 1 new/changed" in built.output, built.output


def test_a_damaged_resume_file_is_discarded(tmp_path: Path) -> None:
    from rag.index.workdir import ResumeCache

    cache = ResumeCache(tmp_path / "default", {"embedding": {"model": "m"}, "chunker": {}})
    cache.folder.mkdir(parents=True)
    for name, data in [("empty.npz", b""), ("cut.npz", b"PK\x03\x04cut")]:
        (cache.folder / name).write_bytes(data)
        assert cache.load(name[:-4]) is None and not (cache.folder / name).exists()
