"""The bits of a question we match on: content words, answer-type cues, bigrams."""

from __future__ import annotations

import re

from rag.index.lexical import HAN as _HAN
from rag.index.lexical import STOPWORDS, tokenize

# Question scaffolding: removed before we look for the question's content words.
# A 有 right before a wh-word goes with it: jieba reads 东关街有多长 as 东关/街有/多长.
_QUESTION_WORDS = re.compile(
    r"请问|是什么|是多少|是谁|是哪|有?(?:什么|哪些|多少|几)|哪里|哪儿|哪个|哪位|哪一|哪|为什么|"
    r"怎么样|怎样|怎么|如何|有?多[长大久远高重宽深厚](?=[\s？?，,。]|$|时间|距离|面积)|"
    r"谁|何时|何地|何|吗|呢|吧|么|是否|有没有|是不是|分别|主要|具体|呀|啊"
)
# The noun right after a wh-word names the answer's type (什么职务, 哪家媒体) and
# often is not in the text; words that refer to the document itself never are.
_TYPE_NOUN = re.compile(rf"(?:什么|哪家|哪个|哪些|哪位|哪种|哪类|哪一个|哪一|哪(?![里儿]))([{_HAN}]{{1,2}})")
_DOC_REF = re.compile(r"这篇|本文|文中|文章|报道|新闻|这则|该文|原文|担任|任职")
_PRONOUN = re.compile(r"他|她|它|其|这|那|该|此|上述|还|另外|此外|其他|其它|别的|除此")
_MORE = re.compile(r"还|另外|此外|其他|其它|别的|除此|除了")


def core(question: str) -> str:
    """The question without its scaffolding words and punctuation."""
    return _QUESTION_WORDS.sub(" ", question)


def bigrams(text: str) -> set[str]:
    """Character bigrams of Han runs plus lower-cased Latin words and numbers."""
    grams: set[str] = set()
    for piece in re.findall(rf"[{_HAN}]+|[A-Za-z0-9]+", text):
        if piece[0].isascii():
            grams.add(piece.lower())
        elif len(piece) == 1:
            grams.add(piece)
        else:
            grams.update(piece[i : i + 2] for i in range(len(piece) - 1))
    return grams


def content_terms(question: str) -> dict[str, float]:
    """The words an answer's context should contain, each with a weight multiplier.

    Scaffolding (什么, 哪里, 是否 ...) is dropped; a generic answer-type noun after a
    wh-word (什么颜色, 哪个地方) is dropped; another noun there (以什么为食) counts half.
    """
    typed = "".join(m.group(1) for m in _TYPE_NOUN.finditer(question))
    text = core(_DOC_REF.sub(" ", question))
    terms: dict[str, float] = {}
    pieces = re.split(r"[^\w]+", text)  # no name runs across removed words or punctuation
    for t in (t for piece in pieces for t in _join_single_chars(tokenize(piece, "jieba"))):
        if t in STOPWORDS or (len(t) == 1 and not t.isascii()) or t in terms or t in GENERIC_TYPES:
            continue
        terms[t] = 0.5 if t in typed else 1.0
    return terms


# Single characters that are words of their own (他还强调了什么), never part of a name run.
_FUNCTION_CHARS = frozenset("他她它我你您们还也都就又再才曾已将要会能可应让给从向到由使令叫说")


def _join_single_chars(tokens: list[str]) -> list[str]:
    """A name jieba does not know comes out a character at a time (萱/侬/律); join such runs."""
    out: list[str] = []
    run = ""
    for t in [*tokens, ""]:
        if (len(t) == 1 and re.fullmatch(f"[{_HAN}]", t) and t not in STOPWORDS
                and t not in _FUNCTION_CHARS):
            run += t
            continue
        if run:
            out.append(run)
            run = ""
        if t:
            out.append(t)
    return out


# Nouns that only name the kind of answer wanted; the text rarely repeats them.
GENERIC_TYPES = frozenset(
    "职务 职位 身份 名字 名称 称呼 时间 时候 地方 地点 地区 原因 缘故 意思 含义 方法 方式 办法 特点 特征 "
    "作用 用途 颜色 程度 内容 人物 东西 情况 样子 类型 种类 国家 城市 年份 日期 数量 数字 结果 目的 "
    "意义 关系 角色 部门 单位 机构 组织 媒体 问题 措施 领域 方面".split()
)
