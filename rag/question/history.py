"""Conversation history: earlier turns, and follow-ups that lean on them ("他还强调了什么？")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.index.lexical import HAN as _HAN
from rag.question.terms import _MORE, _PRONOUN, core


def previous_questions(history: Sequence[Any] | None) -> list[str]:
    """User turns from history given as strings, (user, bot) pairs or role dicts."""
    out: list[str] = []
    for turn in history or []:
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict) and turn.get("role") == "user":
            out.append(_content_text(turn.get("content")))
        elif isinstance(turn, (list, tuple)) and turn and isinstance(turn[0], str):
            out.append(turn[0])
    return [q for q in out if q.strip()]


def previous_answers(history: Sequence[Any] | None) -> list[str]:
    out: list[str] = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") == "assistant":
            out.append(_content_text(turn.get("content")))
        elif isinstance(turn, (list, tuple)) and len(turn) > 1 and isinstance(turn[1], str):
            out.append(turn[1])
    return out


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # gradio 5/6 message parts
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return ""


@dataclass(frozen=True)
class Query:
    text: str  # what the user asked
    search_text: str  # what retrieval sees (with follow-up context carried in)
    wants_more: bool  # "还/另外…": prefer sentences not given before
    is_followup: bool


def resolve_followup(question: str, history: Sequence[Any] | None) -> Query:
    """Carry the previous question's content into an elliptical follow-up."""
    prev = previous_questions(history)
    wants_more = bool(_MORE.search(question))
    content = re.findall(rf"[{_HAN}]{{2,}}|[A-Za-z0-9]+", core(question))
    elliptical = bool(_PRONOUN.search(question)) or sum(len(c) for c in content) < 4
    search = question
    if prev and elliptical:
        return Query(question, f"{core(prev[-1]).strip()} {search}", wants_more, True)
    return Query(question, search, wants_more and bool(prev), False)
