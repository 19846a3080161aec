"""The whole answer path on the bundled article with sentence answers (answer.reader: null):
facts, citations, refusal, follow-ups. tests/test_reader.py covers the reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import InvalidQuestionError
from rag.pipeline import Pipeline
from rag.types import Answer, Citation

from .conftest import ARTICLE, article_pipeline, ask_follow_up


@pytest.fixture(scope="module")
def pipeline(base_config: Config, embedder, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return article_pipeline(base_config, embedder, tmp_path_factory.mktemp("pipeline"), None)


def test_first_call_builds_the_missing_index(pipeline: Pipeline) -> None:
    answer = pipeline.answer("全省脱贫攻坚推进会在哪里召开？")
    assert pipeline.index_path.exists()
    assert isinstance(answer, Answer) and not answer.refused
    assert "菏泽" in answer.text and "[1]" in answer.text
    c = answer.citations[0]
    assert isinstance(c, Citation) and c.n == 1
    assert ARTICLE.read_text(encoding="utf-8").strip()[c.start : c.end] == c.text
    assert answer.passages and answer.passages[0].score > 0


def test_question_set(pipeline: Pipeline, article_qa: list[dict]) -> None:
    answerable = [r for r in article_qa if r["answerable"]]
    unanswerable = [r for r in article_qa if not r["answerable"]]
    assert len(answerable) >= 32 and len(unanswerable) >= 8
    hits, misses = 0, []
    for row in answerable:
        a = pipeline.answer(row["question"])
        ok = not a.refused and any(
            g in a.text and any(g in c.text for c in a.citations) for g in row["answers"])
        hits += ok
        if not ok:
            misses.append((row["question"], a.text[:60]))
    refused = sum(pipeline.answer(r["question"]).refused for r in unanswerable)
    # A guard, not a target: 40/46 and 9/12 measured after the rules tuned on this very set
    # (type penalty, title bonus, ordinal cue) were removed for earning nothing on validation.
    assert hits / len(answerable) >= 0.82, misses
    assert refused / len(unanswerable) >= 0.66


def test_every_citation_points_at_its_text(pipeline: Pipeline, article_qa: list[dict]) -> None:
    for row in article_qa[:15]:
        a = pipeline.answer(row["question"])
        for c in a.citations:
            doc = pipeline.index.documents[c.doc_id]
            assert doc.text[c.start : c.end] == c.text
            assert f"{c.text}[{c.n}]" in a.text
        assert a.refused == (not a.citations)


def test_refusal_has_no_citations(pipeline: Pipeline) -> None:
    a = pipeline.answer("菏泽的GDP是多少？")
    assert a.refused and a.citations == [] and "没有提到" in a.text


def test_follow_up_uses_history(pipeline: Pipeline) -> None:
    first, follow = ask_follow_up(pipeline, "刘家义强调了什么？", "他还强调了什么？")
    assert not follow.refused
    assert set(c.text for c in follow.citations).isdisjoint(c.text for c in first.citations)
    assert any("精准" in c.text for c in follow.citations)


def test_stream_yields_growing_text(pipeline: Pipeline) -> None:
    pieces = list(pipeline.stream("谁出席会议并讲话？"))
    assert len(pieces) > 1
    assert all(b.startswith(a) for a, b in zip(pieces, pieces[1:], strict=False))
    assert pieces[-1] == pipeline.answer("谁出席会议并讲话？").text


@pytest.mark.parametrize("question", ["", "   \n", "问" * 501, None])
def test_bad_questions_raise_a_value_error(pipeline: Pipeline, question: object) -> None:
    with pytest.raises(InvalidQuestionError) as err:
        pipeline.answer(question)  # type: ignore[arg-type]
    assert isinstance(err.value, ValueError)


def test_english_question_still_works(pipeline: Pipeline) -> None:
    a = pipeline.answer("Who is the reporter of this news story?")
    assert "胡德光" in a.text or a.refused  # multilingual model; never a crash


def test_top_level_api_surface() -> None:
    import rag

    assert callable(rag.answer) and hasattr(rag.Pipeline, "from_config")
    assert {"text", "refused", "citations", "passages"} <= set(rag.Answer.__dataclass_fields__)
    assert {"n", "doc_id", "source", "start", "end", "text"} <= set(rag.Citation.__dataclass_fields__)


def test_config_from_file(tmp_path: Path) -> None:
    p = Pipeline.from_config(Path(__file__).parent.parent / "configs" / "default.yaml")
    assert p.config.retrieval.top_k >= 1  # cheap: nothing is loaded yet
    assert not p.loaded


def test_follow_up_with_page_markup_in_history(pipeline: Pipeline) -> None:
    from ui.render import answer_html

    first = pipeline.answer("刘家义强调了什么？")
    history = [{"role": "user", "content": "刘家义强调了什么？"},
               {"role": "assistant",
                "content": answer_html(first.text, first, None, "a00000001", done=False)}]
    follow = pipeline.answer("他还强调了什么？", history=history)
    assert set(c.text for c in follow.citations).isdisjoint(c.text for c in first.citations)


def test_a_short_lead_in_sentence_is_read_with_the_next(pipeline: Pipeline) -> None:
    a = pipeline.answer("刘家义强调思想认识要怎样？")
    texts = [c.text for c in a.citations]
    assert "刘家义强调,一是思想认识要精准。" in texts
    assert any(t.startswith("各级各部门必须从旗帜鲜明讲政治的高度") for t in texts)


def test_a_documents_subject_counts_in_its_later_sentences(config: Config, embedder,
                                                           tmp_path: Path) -> None:
    """Encyclopedic text names its subject once; "分布于…" is still about 五月艾."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "五月艾.txt").write_text(
        "五月艾是菊科蒿属的植物，叶片有香气。\n它是多年生草本，高可达一米。\n"
        "分布于越南、老挝、缅甸以及中国大陆的四川、浙江等地。\n", encoding="utf-8")
    (corpus / "欧洲越橘.txt").write_text(
        "欧洲越橘是杜鹃花科越橘属的植物。\n果实可以食用。\n主要分布于欧洲、北美和亚洲北部。\n",
        encoding="utf-8")
    pipeline = Pipeline(config.replace(index={"corpus": str(corpus)}, answer={"reader": None}),
                        embedder=embedder)
    a = pipeline.answer("五月艾分布在哪些地区？")
    assert any(c.text.startswith("分布于越南") for c in a.citations), a.text
    b = pipeline.answer("欧洲越橘分布在哪里？")
    assert any(c.text.startswith("主要分布于欧洲") for c in b.citations), b.text


def test_candidate_passages_bounds_where_answers_come_from(pipeline: Pipeline) -> None:
    question = "全省脱贫攻坚推进会在哪里召开？"
    narrow = Pipeline(pipeline.config.replace(answer={"candidate_passages": 1}),
                      embedder=pipeline.embedder).with_index(pipeline.index)
    answer = narrow.answer(question)
    assert len(answer.passages) == pipeline.config.retrieval.top_k  # still shown in full
    top = answer.passages[0].chunk
    assert answer.citations and all(c.chunk_id == top.id for c in answer.citations)
    with pytest.raises(ValueError, match="candidate_passages must be >= 1, got 0"):
        Pipeline(pipeline.config.replace(answer={"candidate_passages": 0}), embedder=pipeline.embedder)


def test_an_unknown_hand_rule_is_an_error_naming_the_valid_ones() -> None:
    from rag.answerers.extractive import RULES, ExtractiveAnswerer
    from rag.errors import ConfigError

    config = Config.load(env=False).answer
    assert ExtractiveAnswerer(config, RULES - {"lead"}).rules == {"previous"}
    with pytest.raises(ConfigError, match=r"unknown rules \['title'\]; valid: lead, previous"):
        ExtractiveAnswerer(config, frozenset({"title", "lead"}))
