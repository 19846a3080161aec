"""The words of a question that an answer's context should contain."""

from __future__ import annotations

import pytest

from rag.question import content_terms


@pytest.mark.parametrize(("question", "expected", "absent"), [
    # 有 before a wh-word is scaffolding, not part of the subject (jieba: 东关/街有/多长)
    ("东关街有多长？", {"东关"}, {"街有", "多长"}),
    ("萱侬律占地面积多大？", {"萱侬律", "面积"}, {"多大", "萱", "律"}),  # an unknown name, joined
    ("脱贫攻坚由哪几级书记一起抓？", {"脱贫", "书记"}, {"由级"}),  # no run across a removed wh-word
    ("香港的第一条铁路是哪条铁路？", {"香港", "铁路"}, {"一是"}),  # 第一条铁路 is no list item
    ("刘家义强调的第七点是什么？", {"强调"}, {"七是"}),  # the ordinal cue is gone (validation: no gain)
    ("他还强调了什么？", {"强调"}, {"他还"}),  # pronouns and adverbs are not name pieces
    ("", set(), set()),
    ("？", set(), set()),
    ("iPhone 15 用的是什么芯片？😀", {"iphone", "15", "芯片"}, {"什么"}),
])
def test_content_terms(question: str, expected: set[str], absent: set[str]) -> None:
    terms = content_terms(question)
    assert expected <= set(terms), terms
    assert not absent & set(terms), terms
