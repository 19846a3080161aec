from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main

from .conftest import ROOT


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_ask_prints_answer_and_citations(cfg: Path) -> None:
    result = run("--config", str(cfg), "ask", "全省脱贫攻坚推进会在哪里召开？")
    assert result.exit_code == 0, result.output
    assert "菏泽" in result.output and "[1]" in result.output and "第" in result.output


def test_ask_json_is_the_whole_answer(cfg: Path) -> None:
    result = run("--config", str(cfg), "ask", "--json", "-k", "2", "谁出席会议并讲话？")
    data = json.loads(result.output)
    assert data["refused"] is False and "刘家义" in data["text"]
    assert len(data["passages"]) == 2
    c = data["citations"][0]
    assert {"n", "doc_id", "source", "start", "end", "text"} <= set(c)


@pytest.mark.parametrize("question", ["", "   ", "问" * 600])
def test_bad_question_exits_2(cfg: Path, question: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(cfg), "ask", question])
    assert result.exit_code == 2
    assert "Error:" in result.output


def test_index_build_status_remove(cfg: Path, tmp_path: Path) -> None:
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "west.txt").write_text("西湖位于杭州。", encoding="utf-8")
    (extra / "bad.txt").write_bytes(b"\x00\xff" * 50)
    result = run("--config", str(cfg), "index", "build", str(tmp_path / "corpus"), str(extra))
    assert result.exit_code == 0, result.output
    assert "indexed 2 documents" in result.output and "skipped" in result.output
    status = run("--config", str(cfg), "index", "status")
    assert "2 documents" in status.output and "west.txt" in status.output
    removed = run("--config", str(cfg), "index", "remove", "west.txt")
    assert "removed 1 document" in removed.output
    assert "1 documents" in run("--config", str(cfg), "index", "status").output
    assert "removed" in run("--config", str(cfg), "index", "remove", "--all").output
    missing = CliRunner().invoke(main, ["--config", str(cfg), "index", "status"])
    assert missing.exit_code == 1 and "rag index build" in missing.output


def test_models_reports_resolution(cfg: Path) -> None:
    result = run("--config", str(cfg), "models")
    assert "intfloat/multilingual-e5-small" in result.output
    assert "resolved:" in result.output and str(ROOT / "models") in result.output


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("retrieval:\n  topk: 3\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(bad), "ask", "问题"])
    assert result.exit_code == 2 and "'topk'" in result.output


def test_serve_refuses_public_bind_without_flag(cfg: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(cfg), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--allow-remote" in result.output
