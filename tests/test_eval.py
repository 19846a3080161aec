from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.evaluation import metrics as m
from rag.evaluation.datasets import DatasetError, load_dataset

from .conftest import EVAL_DIR, ROOT


def test_em_and_f1_on_known_pairs() -> None:
    assert m.exact_match("菏泽。", ["菏泽"]) == 1.0
    assert m.exact_match("在菏泽", ["菏泽"]) == 0.0
    assert m.f1("菏泽市", ["菏泽"]) == pytest.approx(0.8)  # p=2/3, r=1
    assert m.f1("济南", ["菏泽"]) == 0.0
    assert m.f1("abc", ["xyz", "ab"]) == pytest.approx(0.8)  # best over references
    assert m.hit("会议在 菏泽，召开", ["菏泽召开"]) == 1.0  # spaces and punctuation ignored
    assert m.hit("anything", []) == 0.0
    assert m.strip_markers("甲[1]乙[12]") == "甲乙"


def test_recall_and_mrr_on_a_tiny_case() -> None:
    ranks = [m.first_relevant_rank(r) for r in ([True, False], [False, False, True], [False] * 5)]
    assert ranks == [1, 3, None]
    assert m.recall_at(ranks, 1) == pytest.approx(1 / 3)
    assert m.recall_at(ranks, 3) == pytest.approx(2 / 3)
    assert m.mrr_at(ranks, 10) == pytest.approx((1 + 1 / 3) / 3)
    assert m.recall_at([], 5) == 0.0


def squad(tmp_path: Path, qas: list[dict], context: str = "菏泽在山东。会议在菏泽召开。") -> Path:
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": qas}]}]},
                               ensure_ascii=False), "utf-8")
    return path


def test_squad_loader_spans_yes_no_and_unanswerable(tmp_path: Path) -> None:
    path = squad(tmp_path, [
        {"id": "1", "question": "会议在哪里召开？", "answers": [{"text": "菏泽", "answer_start": 8}]},
        {"id": "2", "question": "是吗？", "answers": [{"text": "YES", "answer_start": -1}]},
        {"id": "3", "question": "几点？", "answers": [{"text": "", "answer_start": -1}]},
    ])
    ds = load_dataset(path)
    q1, q2, q3 = ds.questions
    assert q1.spans == [(9, 11)] and q1.answerable  # an off-by-one start snaps to the text
    assert q2.answerable and q2.spans == [] and ds.no_span == 1
    assert not q3.answerable and q3.answers == []
    assert len(ds.documents) == 1


def test_traditional_is_converted_and_spans_follow(tmp_path: Path) -> None:
    path = squad(tmp_path, [{"id": "1", "question": "會議在哪裡？",
                             "answers": [{"text": "臺灣", "answer_start": 0}]}], context="臺灣會議。")
    q = load_dataset(path, t2s=True).questions[0]
    assert q.question == "会议在哪里？" and q.answers == ["台湾"] and q.spans == [(0, 2)]


def test_unsupported_files_say_what_was_expected(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"rows": []}', "utf-8")
    with pytest.raises(DatasetError, match="SQuAD-format"):
        load_dataset(bad)
    bad.write_text("not json", "utf-8")
    with pytest.raises(DatasetError, match="expected SQuAD-format JSON .* or JSONL"):
        load_dataset(bad)
    jl = tmp_path / "x.jsonl"
    jl.write_text('{"q": 1}\n', "utf-8")
    with pytest.raises(DatasetError, match=r"line 1\.question must be a str, got nothing"):
        load_dataset(jl)
    result = CliRunner().invoke(main, ["eval", str(bad)])
    assert result.exit_code == 2 and "SQuAD-format" in result.output


def test_eval_json_on_the_article_set() -> None:
    path = ROOT / "tests" / "data" / "article_qa.jsonl"
    # the sentence answers' guard; the reader's article numbers are in tests/test_reader.py
    result = CliRunner().invoke(main, ["eval", str(path), "--json", "--limit", "12"],
                                env={"RAG_ANSWER__READER": "null"})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"retrieval", "answer", "citation", "refusal", "latency_ms", "build", "n"}
    assert data["n"] == 12 and data["answer"]["hit"] >= 0.8
    assert set(data["retrieval"]) >= {"recall@1", "recall@5", "recall@10", "mrr@10"}


@pytest.mark.slow
def test_cmrc_slice_end_to_end() -> None:
    path = EVAL_DIR / "cmrc2018_trial.json"
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    result = CliRunner().invoke(main, ["eval", str(path), "--json", "--limit", "50"])
    data = json.loads(result.stdout)
    assert data["n"] == 50
    assert data["retrieval"]["recall@5"] >= 0.9
    assert data["answer"]["hit"] >= 0.6


def test_compare_scores_other_answer_settings_on_the_same_questions(base_config, embedder) -> None:
    from rag.evaluation.runner import HAND, evaluate

    data = load_dataset(ROOT / "tests" / "data" / "article_qa.jsonl")
    # reader off twice under two names: the same settings must give the same scores
    config = base_config.replace(answer={"reader": None})
    result = evaluate(data, config, embedder=embedder, limit=4, progress=False,
                      compare={**HAND, "one": {"reader": None, "max_sentences": 1}})
    assert set(result["compared"]) == {"hand", "one"}
    assert result["compared"]["hand"]["answer"] == result["answer"]
    assert result["compared"]["one"]["answer"]["avg_chars"] < result["answer"]["avg_chars"]
    assert evaluate(data, config, embedder=embedder, limit=1, progress=False)["compared"] == {}


def test_compare_names_are_checked_before_any_index_is_built(base_config, embedder) -> None:
    from rag.errors import ConfigError
    from rag.evaluation.runner import evaluate

    data = load_dataset(ROOT / "tests" / "data" / "article_qa.jsonl")
    with pytest.raises(ValueError, match="'configured' names the configured answerer"):
        evaluate(data, base_config, embedder=embedder, compare={"configured": {"reader": None}})
    with pytest.raises(ConfigError, match="colour"):
        evaluate(data, base_config, embedder=embedder, compare={"odd": {"colour": "red"}})
