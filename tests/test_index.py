"""A real FAISS + bm25s index over real e5 embeddings, built, reloaded and rebuilt."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.config import Config
from rag.errors import EmptyCorpusError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from rag.index.builder import IndexBuilder
from rag.index.lexical import LexicalIndex, tokenize
from rag.index.store import load_index

from .conftest import ARTICLE, ROOT


def corpus(tmp_path: Path, n: int = 3) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    shutil.copy(ARTICLE, folder / "article.txt")
    topics = ["黄河", "长江", "泰山", "西湖", "长城", "故宫", "珠江", "黄山"]
    for i in range(n - 1):
        t = topics[i % len(topics)]
        (folder / f"note{i}.txt").write_text(f"{t}是中国著名的地方。第{i}号文档介绍{t}的历史。", "utf-8")
    return folder


def builder(config: Config, embedder) -> IndexBuilder:
    return IndexBuilder(config, embedder, dim=embedder.dim)


def test_chinese_is_tokenized_into_words_not_sentences() -> None:
    tokens = tokenize("全省脱贫攻坚推进会在菏泽召开", "jieba")
    assert "菏泽" in tokens and "脱贫" in tokens
    assert "在" not in tokens  # stopword
    assert tokenize("菏泽召开", "bigram") == ["菏泽", "泽召", "召开"]
    assert tokenize("GPU 显卡 RAG", "bigram") == ["gpu", "显卡", "rag"]
    with pytest.raises(ValueError, match="valid: jieba, bigram"):
        tokenize("x", "whitespace")  # type: ignore[arg-type]


def test_bm25_finds_a_chinese_word() -> None:
    chunks = ["菏泽召开推进会", "济南天气晴朗", "青岛啤酒节"]
    index = LexicalIndex("jieba").build([tokenize(c) for c in chunks])
    ids, scores = index.search("推进会在哪里开", 3)
    assert ids[0] == 0 and scores[0] > 0
    assert index.search("完全无关的词汇", 3)[0].size == 0


def test_build_load_round_trip(config: Config, embedder, tmp_path: Path) -> None:
    report = builder(config, embedder).build([corpus(tmp_path)])
    assert report.documents == 3 and len(report.added) == 3
    data = load_index(Path(report.path))
    assert len(data.chunks) == report.chunks == data.search.dense.ntotal
    assert data.chunk_vectors.shape == (report.chunks, 384)
    np.testing.assert_allclose(np.linalg.norm(data.chunk_vectors, axis=1), 1.0, atol=1e-4)
    for chunk in data.chunks:
        assert data.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    manifest = json.loads((Path(report.path) / "manifest.json").read_text("utf-8"))
    assert manifest["version"] == 1 and manifest["embedding"]["dim"] == 384
    assert {d["id"] for d in manifest["documents"]} == set(data.documents)


def test_incremental_build_embeds_only_new_documents(config: Config, embedder, tmp_path: Path) -> None:
    docs = corpus(tmp_path, 3)
    builder(config, embedder).build([docs])
    (docs / "new.txt").write_text("新加入的文档讲述了趵突泉。", "utf-8")
    (docs / "copy.txt").write_text((docs / "note0.txt").read_text("utf-8"), "utf-8")
    (docs / "note1.txt").unlink()
    report = builder(config, embedder).build([docs])
    assert [Path(a).name for a in report.added] == ["new.txt"]  # only the new one is embedded
    assert report.embedded_texts == 2  # its one chunk and one sentence
    # a build adds and updates; note1.txt, gone from disk, stays indexed until removed or --sync
    assert [Path(k).name for k in report.kept] == ["note1.txt"] and report.removed == []
    assert report.documents == 4
    report = builder(config, embedder).build([docs], sync=True)
    assert [Path(r).name for r in report.removed] == ["note1.txt"] and report.embedded_texts == 0
    assert sorted(Path(r).name for r in report.reused) == ["article.txt", "copy.txt", "new.txt"]
    # copy.txt sorts first, so note0.txt is the duplicate and the content is indexed once
    assert [(Path(a).name, Path(b).name) for a, b in report.duplicates] == [("note0.txt", "copy.txt")]
    assert report.documents == 3


def test_bad_files_are_skipped_with_a_reason(config: Config, embedder, tmp_path: Path) -> None:
    docs = corpus(tmp_path, 1)
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (docs / "empty.txt").write_text("", "utf-8")
    report = builder(config, embedder).build([docs])
    assert report.documents == 1
    assert sorted(Path(s).name for s, _ in report.skipped) == ["binary.txt", "empty.txt"]


def test_empty_corpus_writes_nothing(config: Config, embedder, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "empty.txt").write_text("   ", "utf-8")
    with pytest.raises(EmptyCorpusError, match="no index was written"):
        builder(config, embedder).build([tmp_path / "docs"])
    assert not (Path(config.index.root) / config.index.name).exists()


def test_corrupt_and_foreign_indexes_are_named(config: Config, embedder, tmp_path: Path) -> None:
    path = Path(builder(config, embedder).build([corpus(tmp_path, 1)]).path)
    (path / "vectors.npz").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match=r"vectors\.npz.*rag index build"):
        load_index(path)
    (path / "manifest.json").write_text('{"format": "something-else"}', "utf-8")
    with pytest.raises(IndexCorruptError, match="not a rag-zh index"):
        load_index(path)
    (path / "manifest.json").write_text("{not json", "utf-8")
    with pytest.raises(IndexCorruptError, match="unreadable"):
        load_index(path)
    with pytest.raises(IndexNotFoundError):
        load_index(tmp_path / "nowhere")


def test_index_from_another_model_is_refused(config: Config, embedder, tmp_path: Path) -> None:
    b = builder(config, embedder)
    path = Path(b.build([corpus(tmp_path, 1)]).path)
    expected = b.expected_manifest(384)
    expected["embedding"] = {"model": "BAAI/bge-small-zh", "dim": 512}
    with pytest.raises(IndexMismatchError, match="(?s)bge-small-zh.*rag index build"):
        load_index(path, expected)
    other_chunker = b.expected_manifest(384)
    other_chunker["chunker"] = {**other_chunker["chunker"], "chunk_chars": 999}
    with pytest.raises(IndexMismatchError, match="chunker"):
        load_index(path, other_chunker)


KILL_SCRIPT = """
import sys
from pathlib import Path
from rag.config import Config
from rag.embed import Embedder
from rag.index.builder import IndexBuilder
config = Config.load(sys.argv[1], env=False)
e = Embedder(config.embedding)
# small groups, so there is time to kill between them
IndexBuilder(config, e, dim=e.dim, embed_group=8).build([Path(sys.argv[2])])
"""


def test_sigkill_mid_build_keeps_the_old_index_and_resumes(config: Config, embedder,
                                                           tmp_path: Path) -> None:
    docs = corpus(tmp_path, 2)
    first = builder(config, embedder).build([docs])
    before = load_index(Path(first.path))
    for i in range(60):
        (docs / f"more{i}.txt").write_text(f"第{i}篇补充材料。" + "扶贫工作要精准。" * 20, "utf-8")
    cfg = tmp_path / "configs" / "c.yaml"
    cfg.parent.mkdir()
    cfg.write_text(f"index:\n  root: {config.index.root}\nembedding:\n  cache_dir: "
                   f"{config.embedding.cache_dir}\n", "utf-8")
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(cfg), str(docs)], cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    resume = Path(config.index.root)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until some documents are embedded
        done = [p for d in resume.glob(".resume-*") for p in d.glob("*.npz")]
        if len(done) >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(done) >= 2, "the build never started embedding"
    after = load_index(Path(first.path))  # the old index is intact
    assert set(after.documents) == set(before.documents)
    report = builder(config, embedder).build([docs])
    assert report.resumed, "an interrupted build should resume, not start over"
    assert report.documents == 62
    assert not list(resume.glob(".resume-*"))  # cleaned after success
    versions = [p for p in resume.glob(f".{config.index.name}.v*") if p.is_dir()]
    assert versions == [Path(report.path).resolve()]  # the killed build's folder was swept


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_other_faiss_kinds_find_the_same_best_chunk(kind: str) -> None:
    from rag.index.dense import build_faiss, search_faiss

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_faiss(vectors, kind, nlist=8, hnsw_m=16)  # type: ignore[arg-type]
    ids, scores = search_faiss(index, vectors[42], 3)
    assert ids[0] == 42 and scores[0] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="valid: flat, ivf, hnsw"):
        build_faiss(vectors, "tree")  # type: ignore[arg-type]
