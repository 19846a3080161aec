"""The reader's pieces without a trained model: windows, encoding, span decoding, data, calibration."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rag.chunking import split_sentences
from rag.errors import DatasetError
from rag.reader.calibrate import Case, fit
from rag.reader.data import ExampleMaker, load_squad, split
from rag.reader.net import best_spans, encode, token_span
from rag.reader.weights import Calibration, dequantize, quantize_rows
from rag.reader.windows import merge_windows, window_around
from rag.types import Document

TEXT = "第一句很短。第二句稍微长一点，有逗号。第三句。\n另一段的第一句。另一段的第二句！"


def _sentences(text: str = TEXT):
    return split_sentences(Document("d", "d", text))


def test_window_stays_in_its_paragraph_and_size() -> None:
    sents = _sentences()
    w = window_around(sents, 1, TEXT, max_chars=100)
    assert w.text == "第一句很短。第二句稍微长一点，有逗号。第三句。"  # not into the next paragraph
    assert TEXT[w.start:w.end] == w.text
    small = window_around(sents, 1, TEXT, max_chars=13)
    assert small.text == "第二句稍微长一点，有逗号。"  # the centre alone when nothing else fits


def test_window_of_one_character_and_emoji() -> None:
    text = "好。😀 emoji and English. 中文"
    sents = _sentences(text)
    w = window_around(sents, 0, text, max_chars=2)
    assert w.text == "好。"
    whole = window_around(sents, 1, text, max_chars=200)
    assert text[whole.start:whole.end] == whole.text and "😀" in whole.text


def test_window_centre_out_of_range() -> None:
    with pytest.raises(IndexError, match="outside"):
        window_around(_sentences(), 9, TEXT, 100)


def test_merge_drops_contained_windows() -> None:
    sents = _sentences()
    big, small = window_around(sents, 1, TEXT, 100), window_around(sents, 1, TEXT, 13)
    assert merge_windows([small, big]) == [big]
    assert merge_windows([big, small]) == [big]


class _Enc:
    def __init__(self, ids: list[int], offsets: list[tuple[int, int]]) -> None:
        self.ids, self.offsets = ids, offsets


class _CharTokenizer:
    """One token per character: enough to test the layout and the offsets."""

    def encode_batch(self, texts: list[str], add_special_tokens: bool = False) -> list[_Enc]:
        return [_Enc([10 + ord(c) % 1000 for c in t], [(i, i + 1) for i in range(len(t))]) for t in texts]


def test_encode_layout_and_token_span() -> None:
    batch = encode(_CharTokenizer(), ["问", "问题"], ["菏泽召开", "在"])
    assert batch.input_ids[0].tolist()[:4] == [0, 10 + ord("问") % 1000, 2, 2]
    assert batch.first_token == [4, 5]
    assert batch.allowed[0].tolist() == [True, False, False, False, True, True, True, True, False]
    assert token_span(batch, 0, 0, 2) == (4, 5)  # 菏泽
    assert token_span(batch, 1, 0, 1) == (5, 5)
    assert batch.attention_mask[1].tolist()[-1] == 0  # padded


def test_empty_window_cannot_hold_a_span() -> None:
    batch = encode(_CharTokenizer(), ["问"], [""])
    assert token_span(batch, 0, 0, 1) is None


def test_best_span_and_null() -> None:
    batch = encode(_CharTokenizer(), ["问"], ["菏泽召开"])
    logits = torch.full((1, batch.input_ids.shape[1], 2), -5.0)
    logits[0, 0] = torch.tensor([1.0, 1.0])  # no-answer scores 2
    logits[0, 4, 0], logits[0, 5, 1] = 4.0, 4.0  # 菏泽 scores 8
    logits[0, 1, 0] = 50.0  # a question token may never start a span
    (span,) = best_spans(logits, batch)
    assert (span.start, span.end, span.null, span.score, span.margin) == (0, 2, 2.0, 8.0, 6.0)


def test_a_length_prior_moves_the_choice_but_not_the_score() -> None:
    batch = encode(_CharTokenizer(), ["问"], ["在菏泽召开"])
    logits = torch.full((1, batch.input_ids.shape[1], 2), -5.0)
    logits[0, 4, 0], logits[0, 5, 0] = 4.0, 3.8  # starts: 在 (4.0) just above 菏 (3.8)
    logits[0, 6, 1] = 4.0  # end: 泽
    (plain,) = best_spans(logits, batch)
    (short,) = best_spans(logits, batch, length_prior=-0.5)  # ln 3 vs ln 2: 0.2 apart
    (longer,) = best_spans(logits, batch, length_prior=0.5)
    assert (plain.start, plain.end, plain.score) == (0, 3, 8.0)  # 在菏泽
    assert (short.start, short.end) == (1, 3) and abs(short.score - 7.8) < 1e-6  # 菏泽, its own logits
    assert (longer.start, longer.end) == (0, 3)


def test_the_length_prior_is_fitted_on_f1_and_zero_wins_ties() -> None:
    from rag.reader.data import Example
    from rag.reader.length_prior import fit_length_prior
    from rag.reader.spans import Span

    class Reader:  # answers 菏泽 under a negative prior, 在菏泽 otherwise; a cap of 1 cuts it to 菏
        def read_pairs(self, questions, windows, decodings):  # type: ignore[no-untyped-def]
            return {(p, c): [Span(1.0, 0.0, 1 if p < 0 else 0, 2 if c == 1 else 3) for _ in windows]
                    for p, c in decodings}

    examples = [Example("在哪里？", "在菏泽召开", 1, 3), Example("在哪里？", "别的", -1, -1)]
    best, cap, table = fit_length_prior(Reader(), examples, grid=(0.0, -0.5, 0.5),  # type: ignore[arg-type]
                                        caps=(1, 48, 96))
    assert (best, cap) == (-0.5, 48)  # 48 and 96 tie: the smaller cap
    assert table["-0.5@48"] == {"em": 1.0, "f1": 1.0} and table["0.0@48"]["em"] == 0.0
    assert table["-0.5"]["em"] == 0.0  # the first cap's keys carry no "@"
    examples = [Example("在哪里？", "在菏泽召开", 0, 3)]
    best, cap, _ = fit_length_prior(Reader(), examples, grid=(0.5, 0.0, -0.5), caps=(48,))  # type: ignore[arg-type]
    assert (best, cap) == (0.0, 48)  # 0.0 and 0.5 tie: no prior
    with pytest.raises(ValueError, match="no answerable"):
        fit_length_prior(Reader(), [], grid=(0.0,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="caps"):
        fit_length_prior(Reader(), examples, caps=(0,))  # type: ignore[arg-type]


def test_a_cap_on_span_tokens_limits_the_choice() -> None:
    batch = encode(_CharTokenizer(), ["问"], ["在菏泽召开"])
    logits = torch.full((1, batch.input_ids.shape[1], 2), -5.0)
    logits[0, 4, 0], logits[0, 8, 1], logits[0, 5, 1] = 4.0, 4.0, 1.0  # 在…开 best, 在菏 next
    (free,) = best_spans(logits, batch, max_answer_tokens=5)
    (capped,) = best_spans(logits, batch, max_answer_tokens=2)
    assert (free.start, free.end) == (0, 5) and (capped.start, capped.end) == (0, 2)


def _squad(tmp_path: Path, data: object, name: str = "x.json.gz") -> Path:
    path = tmp_path / name
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    return path


def test_load_squad_counts_misplaced_answers(tmp_path: Path) -> None:
    qas = [{"id": "a", "question": "在哪里召开？", "answers": [{"text": "菏泽", "answer_start": 10}]},
           {"id": "b", "question": "谁？", "answers": [{"text": "菏泽", "answer_start": 3}]}]
    context = "全省脱贫攻坚推进会在菏泽召开。"
    path = _squad(tmp_path, {"data": [{"paragraphs": [{"context": context, "qas": qas}]}]})
    corpus = load_squad(path)
    assert [q.id for q in corpus.questions] == ["a"] and corpus.misplaced == 1


@pytest.mark.parametrize("data", [[1, 2], {"data": [{"x": 1}]}, {"data": [{"paragraphs": [{"context": 1}]}]}])
def test_load_squad_names_the_expected_format(tmp_path: Path, data: object) -> None:
    with pytest.raises(DatasetError, match="SQuAD format"):
        load_squad(_squad(tmp_path, data))


def test_load_squad_rejects_non_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(DatasetError, match="SQuAD format"):
        load_squad(path)


def test_examples_positive_and_in_context_negative(tmp_path: Path) -> None:
    context = "甲地在北方。会议在菏泽召开，很多人参加。乙地在南方，天气很热。"
    qas = [{"id": "a", "question": "会议在哪里召开？", "answers": [{"text": "菏泽", "answer_start": 9}]}]
    corpus = load_squad(_squad(tmp_path, {"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}))
    train, val = split(corpus, 0.0)
    assert not val.questions
    examples = ExampleMaker(train, max_chars=12, cross_negatives=0.0, seed=0).examples(train.questions[0])
    pos, neg = examples
    assert pos.window[pos.start:pos.end] == "菏泽"
    assert neg.start == -1 and "菏泽" not in neg.window


def test_calibration_fit_separates_and_respects_the_refusal_cap() -> None:
    rng = np.random.default_rng(0)
    cases = [Case("answerable", [float(m)], [1.0], [0.8], [1.0], 0.8) for m in rng.normal(5, 2, 200)]
    cases += [Case("other", [float(m)], [1.0], [0.6], [0.0], 0.6) for m in rng.normal(-3, 2, 100)]
    cases += [Case("own", [float(m)], [1.0], [0.7], [0.0], 0.7) for m in rng.normal(-1, 2, 100)]
    calibration, report = fit(cases, max_refused=0.05)
    assert report["answerable_refused"] <= 0.05
    accepted = [calibration.accepts(c.margins[0], c.nulls[0], c.evidence) for c in cases]
    assert np.mean(accepted[:200]) >= 0.95
    assert np.mean(accepted[200:]) < 0.5


def test_calibration_fit_uses_the_null_logits_when_margins_do_not_separate() -> None:
    # Same margins and evidence for both kinds; only the span's own logits (margin + null) differ.
    rng = np.random.default_rng(1)
    margins = [float(m) for m in rng.normal(2, 1, 300)]
    cases = [Case("answerable", [m], [float(n)], [0.7], [1.0], 0.7)
             for m, n in zip(margins[:150], rng.normal(3, 1, 150), strict=True)]
    kinds = ["other", "own"] * 75
    cases += [Case(kind, [m], [float(n)], [0.7], [0.0], 0.7)
              for kind, m, n in zip(kinds, margins[150:], rng.normal(-3, 1, 150), strict=True)]
    calibration, report = fit(cases, max_refused=0.05, null_logits=True)
    assert calibration.w_null > 0 and report["null_logits"] is True
    assert report["unanswerable_own_refused"] > 0.9 and report["unanswerable_other_refused"] > 0.9
    # The default margin rule does not look at the null logits, so here it cannot separate.
    margin_only, report = fit(cases, max_refused=0.05)
    assert margin_only.w_null == 0.0 and report["null_logits"] is False
    assert report["unanswerable_own_refused"] < 0.5 and report["unanswerable_other_refused"] < 0.5


def test_calibration_fit_by_default_decides_on_the_margin_alone() -> None:
    """The null logits can change without changing the default fit or what it refuses."""
    rng = np.random.default_rng(2)
    cases = [Case("answerable", [float(m), float(m) - 4], [0.0, 0.0], [0.8, 0.2], [1.0, 0.0], 0.8)
             for m in rng.normal(5, 2, 120)]
    cases += [Case(kind, [float(m)], [0.0], [0.6], [0.0], 0.6)
              for kind, m in zip(["other", "own"] * 60, rng.normal(-2, 2, 120), strict=True)]
    cases += [Case("own", [], [], [], [], 0.1)]  # nothing read: the most confident "no answer"
    noisy = [dataclasses.replace(c, nulls=[float(n) for n in rng.normal(0, 5, len(c.nulls))]) for c in cases]
    a, report = fit(cases)
    b, _ = fit(noisy)
    assert a == b and a.w_null == 0.0 and a.w_margin > 0
    assert report["answerable_refused"] <= 0.05 and report["cases"]["own"] == 61
    assert all(a.accepts(c.margins[0], n.nulls[0], c.evidence) == a.accepts(c.margins[0], 0.0, c.evidence)
               for c, n in zip(cases, noisy, strict=True) if c.margins)


@pytest.mark.parametrize("max_refused", [-0.1, 1.5])
def test_calibration_fit_rejects_a_refusal_cap_outside_0_and_1(max_refused: float) -> None:
    with pytest.raises(ValueError, match=f"max_refused must be within \\[0, 1\\], got {max_refused}"):
        fit([Case("answerable", [1.0], [0.0], [0.5], [1.0], 0.5)], max_refused)


def test_calibration_fit_without_an_answerable_reading_is_a_clear_error() -> None:
    cases = [Case("answerable", [], [], [], [], 0.2), Case("own", [1.0], [0.0], [0.5], [0.0], 0.5)]
    with pytest.raises(DatasetError, match="no answerable validation question had a window read"):
        fit(cases)


def test_calibration_without_a_null_weight_decides_as_before() -> None:
    old = Calibration(hand_weight=16.0, w_margin=0.28, w_evidence=8.9, bias=-5.9)
    assert old.w_null == 0.0
    assert old.value(2.0, 100.0, 0.5) == pytest.approx(0.28 * 2.0 + 8.9 * 0.5 - 5.9)


def test_int8_rows_round_trip_within_half_a_step() -> None:
    w = torch.randn(6, 40) * torch.tensor([1e-3, 0.1, 1.0, 10.0, 0.5, 2.0])[:, None]
    w[4] = 0.0  # an all-zero row must not divide by zero
    q, scale = quantize_rows(w)
    assert q.dtype == torch.int8 and q.shape == w.shape and scale.shape == (6, 1)
    assert int(q.abs().max()) == 127  # each non-zero row uses the full range
    back = dequantize({"top.w": q, "top.w.scale": scale, "top.b": torch.ones(3, dtype=torch.float16)}, "top.")
    assert set(back) == {"w", "b"} and back["b"].dtype == torch.float32
    assert torch.all((back["w"] - w).abs() <= scale / 2 + 1e-7)
    assert torch.equal(back["w"][4], torch.zeros(40))


def test_version_1_tensors_without_scales_load_as_they_are() -> None:
    w = torch.randn(3, 4).to(torch.float16)
    assert torch.equal(dequantize({"top.w": w}, "top.")["w"], w.float())
