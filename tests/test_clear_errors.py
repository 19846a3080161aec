"""Every bad input ends in one clear message: the CLI's `Error:` line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.config import Config
from rag.errors import DatasetError, InvalidQuestionError
from rag.evaluation.datasets import load_dataset
from rag.pipeline import Pipeline
from rag.question.checks import check_question

from .conftest import article_pipeline


@pytest.mark.parametrize("env, message", [
    ({"RAG_ANSWER__MAX_SENTENCES": "0"}, "answer.max_sentences must be 1..10, got 0"),
    ({"RAG_CHUNKING__CHUNK_CHARS": "0"}, "chunk_chars"),
    ({"RAG_GENERATION__BACKEND": "openai"}, "generation.base_url must be set"),
    ({"RAG_RETRIEVAL__TOPK": "3"}, "unknown key 'topk'"),
])
def test_bad_settings_are_one_error_line(cfg: Path, env: dict[str, str], message: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(cfg), "ask", "会议由谁主持？"], env=env)
    assert result.exit_code == 2 and message in result.output, result.output
    assert result.output.startswith("Error:") and isinstance(result.exception, SystemExit)


def test_other_programs_rag_variables_are_ignored(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_FOO__BAR", "1")
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "7")
    assert Config.load(cfg).retrieval.top_k == 7


def test_an_index_root_that_is_a_file(cfg: Path, tmp_path: Path) -> None:
    (tmp_path / "index").write_text("not a folder", "utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg), "index", "build"])
    assert result.exit_code == 1 and result.output.startswith("Error:"), result.output
    assert "index" in result.output and not isinstance(result.exception, OSError)


def test_questions_are_cleaned_of_invalid_characters() -> None:
    assert check_question("会议\ud800由谁\udcff主持\ufffd？\x00", 100) == "会议由谁主持？"
    with pytest.raises(InvalidQuestionError, match="only invalid or control characters"):
        check_question("\udcff\udcfe", 100)


@pytest.fixture(scope="module")
def pipeline(base_config: Config, embedder, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return article_pipeline(base_config, embedder, tmp_path_factory.mktemp("errors"), None)


def test_traditional_questions_find_what_simplified_ones_do(pipeline: Pipeline) -> None:
    simplified = pipeline.answer("会议由谁主持？")
    traditional = pipeline.answer("會議由誰主持？")
    assert not traditional.refused and traditional.text == simplified.text and "王文涛" in traditional.text
    assert traditional.question == "會議由誰主持？"  # the question as asked; the answer as written


@pytest.mark.parametrize("k", [0, -1, 101, 2.5, True])
def test_k_out_of_range_is_refused(pipeline: Pipeline, k: object) -> None:
    with pytest.raises(InvalidQuestionError, match="k must be an integer from 1 to 100"):
        pipeline.answer("会议由谁主持？", k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize("record, message", [
    ({"data": [{"paragraphs": [{"context": 5, "qas": []}]}]},
     r"data\[0\]\.paragraphs\[0\]\.context must be a str"),
    ({"data": [{"paragraphs": [{"context": "菏泽", "qas": [{"answers": []}]}]}]},
     r"qas\[0\]\.question must be a str, got nothing"),
    ({"data": [{"paragraphs": [{"context": "菏泽", "qas": [{"question": "哪", "answers": "菏泽"}]}]}]},
     r"qas\[0\]\.answers must be a list"),
    ({"data": [{"paragraphs": [{"context": "菏泽", "qas": [
        {"question": "哪", "answers": [{"text": "菏泽", "answer_start": "0"}]}]}]}]},
     r"answers\[0\] needs text .* answer_start \(an integer\)"),
    ({"data": ["x"]}, r"data\[0\] must be an object"),
])
def test_malformed_squad_names_the_record_and_field(tmp_path: Path, record: dict, message: str) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps(record, ensure_ascii=False), "utf-8")
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_jsonl_checks_encoding_and_answer_types(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_bytes('{"question": "会议在哪里召开？", "answers": ["菏泽"]}\n'.encode("gbk"))
    with pytest.raises(DatasetError, match="not UTF-8.*iconv -f gbk"):
        load_dataset(path)
    path.write_text('{"question": "会议在哪里召开？", "answers": "菏泽"}\n', "utf-8")
    with pytest.raises(DatasetError, match=r"line 1\.answers must be a list of strings"):
        load_dataset(path)


def test_eval_cutoffs_must_be_positive(cfg: Path, tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "会议在哪里召开？", "answers": ["菏泽"]}\n', "utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg), "eval", str(path), "--k", "0,-1"])
    assert result.exit_code == 2 and "positive integer" in result.output
