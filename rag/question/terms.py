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
# 第七点 / 第三条 in a question refers to 七是 / 三是 in Chinese official prose.
# Not 第一条铁路: the cue must end the phrase (第七点是什么, 第三条的内容, 第二项？).
_ORDINAL = re.compile(r"第([一二三四五六七八九十]{1,3})"
                      r"(?:(?:点|条|项|个方面|方面)(?=是|的|内容|要求|[\s？?，,。]|$)|是)")
_PRONOUN = re.compile(r"他|她|它|其|这|那|该|此|上述|还|另外|此外|其他|其它|别的|除此")
_MORE = re.compile(r"还|另外|此外|其他|其它|别的|除此|除了")
_QUANTITY_Q = re.compile(r"多少|几|数量")
_UNITS = ("小时", "亿元", "万元", "公里", "平方米", "星期", "人", "个", "名", "位", "项", "次",
          "条", "家", "户", "种", "级", "路", "点", "年", "月", "天", "日", "亿", "万", "元", "岁",
          "米", "吨", "亩", "所", "座", "辆", "篇", "本", "场", "支", "批", "部", "届", "期", "件")
_UNIT_Q = re.compile(r"(?:多少|几)(个)?(" + "|".join(_UNITS) + ")")
_RATE_Q = re.compile(r"率|比例|百分比|占比")
_RATE_A = re.compile(r"[%％]|百分之|[0-9一二三四五六七八九十]成")
_AGE_Q = re.compile(r"年龄|岁数|几岁|多少岁|多大年纪|多大了|寿命")
_AGE_A = re.compile(r"[0-9一二三四五六七八九十]+\s*岁")
_TITLE_Q = re.compile(r"什么职务|职务是什么|什么职位|职位是什么|担任什么|任什么职|何职|什么官职|头衔是什么")
_TITLE_A = re.compile(r"书记|省长|市长|县长|区长|镇长|部长|主任|厅长|局长|主席|总理|委员|常委|经理|"
                      r"董事长|总裁|校长|院长|处长|科长|主编|秘书长|司令|总统|首相|大使|教授")
# a count: Arabic digits, or a Chinese numeral followed by a measure word
_COUNT_A = re.compile(
    r"[0-9０-９]|[零〇两一二三四五六七八九十百千万亿]+\s*(?:" + "|".join(_UNITS) + r"|%|倍)"
)
_NUM = "[0-9０-９零〇一二三四五六七八九十百千万亿两多余几数]"
_TIME_Q = re.compile(r"什么时候|何时|哪天|哪一天|日期|时间|哪年|哪一年|几月|几号|几日")
_TIME_A = re.compile(
    r"[0-9０-９一二三四五六七八九十]+\s*[年月日号时]|上午|下午|晚上|今年|去年|明年|当天|近日|日前"
)
_YEAR_Q = re.compile(r"哪年|哪一年|年份|几几年")
_YEAR_A = re.compile(r"[0-9０-９]{2,4}\s*年|[零〇一二三四五六七八九]{2,4}年")


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


def type_mismatch(question: str, sentence: str) -> bool:
    """True when the question asks for a year, time, age, rate or count the sentence lacks."""
    if _YEAR_Q.search(question):
        return not _YEAR_A.search(sentence)
    if _TITLE_Q.search(question):
        return not _TITLE_A.search(sentence)
    if _AGE_Q.search(question):
        return not _AGE_A.search(sentence)
    if _TIME_Q.search(question):
        return not _TIME_A.search(sentence)
    if _QUANTITY_Q.search(question) and _RATE_Q.search(question):
        return not _RATE_A.search(sentence)
    unit = _UNIT_Q.search(question)
    if unit:
        # 多少人 wants "<number>人"; 几个小时 wants "<number>(个)小时"
        return not re.search(f"{_NUM}\\s*(?:个)?{unit.group(2)}", sentence)
    if _QUANTITY_Q.search(question):
        return not _COUNT_A.search(sentence)
    return False


def title_next_to_subject(question: str, sentence: str) -> bool:
    """For 刘家义担任什么职务: does a title stand right before the name (省委书记刘家义)?"""
    title = _TITLE_Q.search(question)
    if not title:
        return False
    subject = re.sub(r"(现在|目前|现|的|是|一直|担任|任)+$", "", question[: title.start()].strip())
    subject = re.findall(rf"[{_HAN}]{{2,}}", subject)
    if not subject:
        return False
    name = subject[-1][-3:][:2]
    return bool(re.search(f"(?:{_TITLE_A.pattern}).{{0,2}}{re.escape(name)}", sentence))


def content_terms(question: str) -> dict[str, float]:
    """The words an answer's context should contain, each with a weight multiplier.

    Scaffolding (什么, 哪里, 是否 ...) is dropped; a generic answer-type noun after a
    wh-word (什么颜色, 哪个地方) is dropped; another noun there (以什么为食) counts half;
    an ordinal cue (七是 for 第七点) counts triple.
    """
    typed = "".join(m.group(1) for m in _TYPE_NOUN.finditer(question))
    text = _ORDINAL.sub(lambda m: f" {m.group(1)}是 ", question)
    text = core(_DOC_REF.sub(" ", text))
    terms: dict[str, float] = {f"{m.group(1)}是": 3.0 for m in _ORDINAL.finditer(question)}
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
