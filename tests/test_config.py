from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_config_loads_and_resolves_paths() -> None:
    config = Config.load(env=False)
    assert config.embedding.model == "intfloat/multilingual-e5-small"
    assert Path(config.index.root).is_absolute()
    assert Path(config.index.corpus, "全省脱贫攻坚推进会在菏泽召开.txt").is_file()


def test_unknown_key_names_key_file_and_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "retrieval:\n  topk: 3\n")
    with pytest.raises(ConfigError) as err:
        Config.load(path, env=False)
    message = str(err.value)
    assert "'topk'" in message and str(path) in message and "top_k" in message


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown section 'retreival'"):
        Config.load(write(tmp_path, "retreival: {}\n"), env=False)


def test_wrong_type_and_bad_choice(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="retrieval.top_k must be int"):
        Config.load(write(tmp_path, "retrieval:\n  top_k: five\n"), env=False)
    with pytest.raises(ConfigError, match="valid values: flat, ivf, hnsw"):
        Config.load(_fresh(tmp_path, "index:\n  dense: tree\n"), env=False)


def test_a_choice_that_may_be_null(tmp_path: Path) -> None:
    """answer.reader_dtype: null (as embedding.dtype) or one of its choices, nothing else."""
    assert Config.load(env=False).answer.reader_dtype is None
    path = _fresh(tmp_path, "answer:\n  reader_dtype: int8\n")
    assert Config.load(path, env=False).answer.reader_dtype == "int8"
    with pytest.raises(ConfigError, match="answer.reader_dtype = 'int4' is not valid; valid values: auto, "
                       "float32, bfloat16, bfloat16-weights, int8"):
        Config.load(_fresh(tmp_path, "answer:\n  reader_dtype: int4\n"), env=False)


def _fresh(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "other.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_overrides_are_typed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path, "retrieval:\n  top_k: 3\n")
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "9")
    monkeypatch.setenv("RAG_UI__PASSWORD", "1234")
    config = Config.load(path)
    assert config.retrieval.top_k == 9
    assert config.ui.password == "1234"  # text, although it looks like a number
    monkeypatch.setenv("RAG_RETRIEVAL__TOPK", "9")
    with pytest.raises(ConfigError, match="'topk'"):
        Config.load(path)


def test_relative_paths_resolve_against_project_root(tmp_path: Path) -> None:
    path = write(tmp_path, "index:\n  root: built\n")
    assert Config.load(path, env=False).index.root == str((tmp_path / "built").resolve())


def test_replace_checks_keys() -> None:
    config = Config.load(env=False)
    assert config.replace(retrieval={"top_k": 2}).retrieval.top_k == 2
    with pytest.raises(ConfigError, match="unknown key 'k'"):
        config.replace(retrieval={"k": 2})


def test_sub_sections_are_checked_typed_overridden_and_resolved(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    path = write(tmp_path, "index:\n  backend: milvus\n  milvus:\n    uri: data/m.db\n")
    config = Config.load(path, env=False)
    assert config.index.milvus.uri == str((tmp_path / "data" / "m.db").resolve())  # a lite file: resolved
    assert config.index.milvus.timeout_s == 10.0  # defaults kept for keys not given
    monkeypatch.setenv("RAG_INDEX__MILVUS__URI", "http://milvus:19530")
    monkeypatch.setenv("RAG_INDEX__MILVUS__TOKEN", "1234")
    config = Config.load(path)
    assert config.index.milvus.uri == "http://milvus:19530"  # a server address: kept as it is
    assert config.index.milvus.token == "1234"
    monkeypatch.setenv("RAG_INDEX__MILVUS__URL", "x")
    with pytest.raises(ConfigError, match="unknown key 'url' in section 'index.milvus'; valid keys: uri"):
        Config.load(path)
    with pytest.raises(ConfigError, match="index.milvus.timeout_s must be float"):
        Config.load(_fresh(tmp_path, "index:\n  milvus:\n    timeout_s: soon\n"), env=False)
    with pytest.raises(ConfigError, match="index.milvus must be a mapping"):
        Config.load(_fresh(tmp_path, "index:\n  milvus: http://x\n"), env=False)
    assert config.replace(index={"milvus": {"collection": "kb"}}).index.milvus.token == "1234"
