"""The milvus backend, against real Milvus: milvus-lite in a file, milvus-lite as a server over
HTTP (a subprocess on a free port), and a real server when MILVUS_URI is set."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.config import Config
from rag.errors import IndexBackendError, IndexCorruptError, IndexMismatchError
from rag.index.builder import IndexBuilder
from rag.index.milvus import MilvusBackend
from rag.index.store import load_index
from rag.pipeline import Pipeline

from .conftest import ARTICLE, ROOT, free_port

QUESTIONS = ["全省脱贫攻坚推进会在哪里召开？", "会议由谁主持？", "刘家义强调了什么？",
             "菏泽的特色产业有哪些？"]


class LiteServer:
    """`milvus-lite server` as a subprocess on a free localhost port (bound to 127.0.0.1 only)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.with_name(f"{data_dir.name}.log")  # kept for a failing test's report
        self.process: subprocess.Popen | None = None

    def start(self) -> LiteServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "milvus-lite server exited"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)
        raise TimeoutError("milvus-lite server did not start in 60 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def lite_server(tmp_path: Path) -> Iterator[LiteServer]:
    server = LiteServer(tmp_path / "lite-server").start()
    yield server
    server.kill()


@pytest.fixture(params=["lite-file", "lite-server", "MILVUS_URI"])
def milvus_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "lite-file":
        yield str(tmp_path / "milvus.db")
    elif request.param == "lite-server":
        server = LiteServer(tmp_path / "lite-server").start()
        yield server.uri
        server.kill()
    else:
        uri = os.environ.get("MILVUS_URI")
        if not uri:
            pytest.skip("set MILVUS_URI (and MILVUS_TOKEN) to test against a real Milvus server")
        yield uri


def milvus_config(config: Config, uri: str, tmp_path: Path, collection: str | None = None) -> Config:
    name = collection or f"t_{tmp_path.name.replace('-', '_')}"[:200]  # unique on a shared server
    return config.replace(index={"backend": "milvus", "milvus": {
        "uri": uri, "collection": name, "token": os.environ.get("MILVUS_TOKEN")}})


def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    (folder / "article.txt").write_text(ARTICLE.read_text("utf-8"), "utf-8")
    return folder


def test_same_answers_and_incremental_sync_on_milvus(config: Config, embedder, tmp_path: Path,
                                                     milvus_uri: str) -> None:
    folder = docs(tmp_path)
    faiss = Pipeline(config.replace(index={"root": str(tmp_path / "faiss")}), embedder=embedder)
    faiss.build([folder])
    cfg = milvus_config(config, milvus_uri, tmp_path)
    milvus = Pipeline(cfg, embedder=embedder)
    report = milvus.build([folder])
    backend = MilvusBackend.from_config(cfg.index)
    assert backend.count() == report.chunks == len(milvus.index.chunks)
    for q in QUESTIONS:  # the same answers, citations and short answers as on FAISS
        a, b = faiss.answer(q), milvus.answer(q)
        assert (a.text, a.short, [c.text for c in a.citations]) == (b.text, b.short,
                                                                    [c.text for c in b.citations])
    assert milvus.retrieve("菏泽").fused and milvus.retrieve("菏泽").lexical  # BM25 ran on the server

    # incremental: a new document is the only one embedded and upserted; removal deletes its rows
    (folder / "new.txt").write_text("新加入的文档讲述了济南的趵突泉。趵突泉是天下第一泉。", "utf-8")
    report = milvus.build([folder])
    assert [Path(a).name for a in report.added] == ["new.txt"] and report.embedded_texts == 3
    assert backend.count() == report.chunks
    assert "趵突泉" in milvus.answer("天下第一泉是哪个泉？").text
    new_id = next(d.id for d in milvus.index.documents.values() if d.source.endswith("new.txt"))
    report = milvus.remove([new_id])
    assert backend.count() == report.chunks and "new.txt" not in str(milvus.index.documents)

    # the CLI works on the same index: status names the collection, remove --all drops it
    yaml = tmp_path / "milvus.yaml"
    yaml.write_text(f"index:\n  root: {cfg.index.root}\n  backend: milvus\n  milvus:\n    uri: {milvus_uri}\n"
                    f"    collection: {backend.collection}\nembedding:\n  cache_dir: {ROOT / 'models'}\n",
                    "utf-8")
    status = CliRunner().invoke(main, ["--config", str(yaml), "index", "status"])
    assert status.exit_code == 0, status.output
    assert f"milvus collection {backend.collection} at {milvus_uri} ({report.chunks} chunks)" in status.output
    gone = CliRunner().invoke(main, ["--config", str(yaml), "index", "remove", "--all"])
    assert gone.exit_code == 0 and f"dropped collection {backend.collection}" in gone.output, gone.output
    assert not backend.client().has_collection(backend.collection)


def test_a_dropped_collection_is_named_and_refilled_without_embedding(config: Config, embedder,
                                                                      tmp_path: Path) -> None:
    cfg = milvus_config(config, str(tmp_path / "m.db"), tmp_path)
    p = Pipeline(cfg, embedder=embedder)
    chunks = p.build([docs(tmp_path)]).chunks
    MilvusBackend.from_config(cfg.index).drop()
    with pytest.raises(IndexCorruptError, match="collection .* is missing at .*m.db; run `rag index build`"):
        p.reload()
    report = p.build([docs(tmp_path)])
    assert report.embedded_texts == 0 and MilvusBackend.from_config(cfg.index).count() == chunks


def test_a_foreign_or_mismatched_collection_is_refused(config: Config, embedder, tmp_path: Path) -> None:
    from pymilvus import DataType, MilvusClient

    uri = str(tmp_path / "m.db")
    client = MilvusClient(uri)
    schema = client.create_schema(auto_id=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=768)
    client.create_collection("theirs", schema=schema)
    cfg = milvus_config(config, uri, tmp_path, collection="theirs")
    with pytest.raises(IndexMismatchError, match="theirs at .*was not created by rag-zh .*pk, embedding"):
        IndexBuilder(cfg, embedder).build([docs(tmp_path)])
    assert client.has_collection("theirs")  # never dropped behind the user's back

    ours = milvus_config(config, uri, tmp_path, collection="ours")
    IndexBuilder(ours, embedder).build([docs(tmp_path)])
    other = ours.replace(chunking={"chunk_chars": 300}, index={"root": str(tmp_path / "other")})
    with pytest.raises(IndexMismatchError, match="(?s)chunker: collection has .*500.*300"):
        IndexBuilder(other, embedder).build([docs(tmp_path)])


def test_an_unreachable_server_gets_a_clear_error(config: Config, embedder, tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    cfg = milvus_config(config, uri, tmp_path).replace(index={"milvus": {"timeout_s": 3.0}})
    started = time.monotonic()
    with pytest.raises(IndexBackendError, match=f"Milvus at {uri}: connecting failed .*running and reach"):
        IndexBuilder(cfg, embedder).build([docs(tmp_path)])
    assert time.monotonic() - started < 30
    assert not Path(cfg.index.root, cfg.index.name).exists()  # nothing half-written
    result = CliRunner().invoke(main, ["--config", str(write_yaml(tmp_path, cfg, uri)), "index", "build"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"Milvus at {uri}" in result.output


def test_a_killed_lite_server_mid_build_loses_nothing_and_resumes(config: Config, embedder, tmp_path: Path,
                                                                 lite_server: LiteServer) -> None:
    cfg = milvus_config(config, lite_server.uri, tmp_path)
    folder = docs(tmp_path)
    first = IndexBuilder(cfg, embedder).build([folder])
    (folder / "new.txt").write_text("新加入的文档讲述了济南的趵突泉。", "utf-8")
    with pytest.raises(IndexBackendError, match=f"(?s)Milvus at {lite_server.uri}: .* index is unchanged"):
        # the server dies once the new document is embedded, before its chunks are written
        IndexBuilder(cfg, embedder).build([folder], progress=lambda done, total: lite_server.kill())
    assert lite_server.process is not None and lite_server.process.poll() is not None
    before = load_index(Path(first.path), search=False)  # the current index is untouched
    assert len(before.chunks) == first.chunks
    lite_server.start()  # same data folder, same port
    report = IndexBuilder(cfg, embedder).build([folder])
    assert [Path(s).name for s in report.resumed] == ["new.txt"] and report.embedded_texts == 0
    assert MilvusBackend.from_config(cfg.index).count() == report.chunks


def test_bad_milvus_settings_name_the_value(tmp_path: Path) -> None:
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="'ftp://x' has an unknown scheme; valid: http://"):
        MilvusBackend("ftp://x", "c")
    with pytest.raises(ConfigError, match="must end in .db"):
        MilvusBackend(str(tmp_path / "milvus"), "c")
    with pytest.raises(ConfigError, match="'1-bad' is not a valid Milvus name"):
        MilvusBackend(str(tmp_path / "m.db"), "1-bad")
    with pytest.raises(ConfigError, match="backend = 'qdrant' is not valid; valid values: faiss, milvus"):
        Config.load(write_bad(tmp_path))


def write_yaml(tmp_path: Path, cfg: Config, uri: str) -> Path:
    path = tmp_path / "rag.yaml"
    path.write_text(f"index:\n  root: {cfg.index.root}\n  corpus: {tmp_path / 'docs'}\n  backend: milvus\n"
                    f"  milvus:\n    uri: {uri}\n    timeout_s: 3\n"
                    f"embedding:\n  cache_dir: {ROOT / 'models'}\n",
                    "utf-8")
    return path


def write_bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("index:\n  backend: qdrant\n", "utf-8")
    return path


def test_a_wrong_token_is_named(config: Config, embedder, tmp_path: Path) -> None:
    uri = os.environ.get("MILVUS_URI")
    if not uri or not os.environ.get("MILVUS_TOKEN"):
        pytest.skip("set MILVUS_URI and MILVUS_TOKEN (a server with authentication) to test a wrong token")
    cfg = config.replace(index={"backend": "milvus", "milvus": {"uri": uri, "token": "root:wrong-password"}})
    with pytest.raises(IndexBackendError, match=f"Milvus at {uri}: connecting failed .*token"):
        IndexBuilder(cfg, embedder).build([docs(tmp_path)])


def test_a_lite_file_held_by_another_process_is_named(config: Config, embedder, tmp_path: Path) -> None:
    uri = str(tmp_path / "m.db")
    holder = subprocess.Popen([sys.executable, "-c", f"from pymilvus import MilvusClient; import time; "
                               f"MilvusClient({uri!r}); print('ready', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        cfg = milvus_config(config, uri, tmp_path).replace(index={"milvus": {"timeout_s": 2.0}})
        with pytest.raises(IndexBackendError, match="open in one process at a time.*milvus-lite server"):
            IndexBuilder(cfg, embedder).build([docs(tmp_path)])
    finally:
        holder.kill()
        holder.wait()


def test_connecting_is_retried_until_the_timeout_unless_the_token_is_refused() -> None:
    from rag.index.milvus import _refused_for_auth

    def failed(cause: str) -> IndexBackendError:  # our message always names the token setting
        error = IndexBackendError("Milvus at x: connecting failed; check that index.milvus.token is right")
        error.__cause__ = RuntimeError(cause)
        return error

    assert _refused_for_auth(failed("<MilvusException: (code=1800, message=auth check failure, "
                                    "please check username, password or token)>"))
    assert not _refused_for_auth(failed("Fail connecting to server on 127.0.0.1:1, server unavailable"))
