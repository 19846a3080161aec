"""The Chinese prompts: numbered passages, mandatory [n] citations, one refusal phrase."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rag.config import DEFAULT_REFUSAL
from rag.question import previous_answers, previous_questions
from rag.types import Passage


def system_prompt(refusal: str) -> str:
    """The rules; `refusal` is the one phrase the model may answer when the passages lack it."""
    return (
        "你是一个严谨的中文文档问答助手。只能根据下面编号的资料回答问题，不得使用资料以外的知识。\n"
        "规则：\n"
        "1. 每句话末尾用 [编号] 标明依据的资料，例如 [1] 或 [2]；只能引用给出的编号。\n"
        f"2. 如果资料中没有答案，只回答：{refusal}\n"
        "3. 回答简洁，直接回答问题，不要复述全部资料。"
    )


REWRITE = (
    "请根据对话历史，把用户最后的追问改写成一个完整、独立、不含代词的中文问题。"
    "只输出改写后的问题本身。"
)


def number_passages(passages: Sequence[Passage]) -> str:
    return "\n\n".join(f"[{i}] {p.chunk.text}" for i, p in enumerate(passages, start=1))


def answer_messages(question: str, passages: Sequence[Passage],
                    history: Sequence[Any] | None = None,
                    refusal: str = DEFAULT_REFUSAL) -> list[dict[str, str]]:
    """System prompt + earlier turns + the numbered passages and the question."""
    messages = [{"role": "system", "content": system_prompt(refusal)}]
    for q, a in zip(previous_questions(history), previous_answers(history), strict=False):
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    messages.append({"role": "user", "content": f"资料：\n{number_passages(passages)}\n\n问题：{question}"})
    return messages


def rewrite_messages(question: str, history: Sequence[Any] | None) -> list[dict[str, str]]:
    turns = "\n".join(f"用户：{q}" for q in previous_questions(history)[-3:])
    return [{"role": "system", "content": REWRITE},
            {"role": "user", "content": f"对话历史：\n{turns}\n\n追问：{question}"}]
